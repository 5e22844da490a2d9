"""Alarm benchmarks: rule evaluations per second, and ingest with the rules on against off.

``evaluation_benchmark``: a fleet of ``devices`` reporting in rotation, ``rules``
rules over the four types, each batch evaluated as the consumer's hook does it
(verdicts, the shared state read and locked, alarms and outbox written), in a
database of its own. ``ingest_pairs``: ``bench_ingest``'s run (the real
consumer process) with ``ALARMS_ENABLED`` off and on, alternately, ``pairs`` times.
"""

import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from django.conf import settings
from django.db import connections

from alarms.defaults import ALERT_EXCESS, WARN_EXCESS
from alarms.engine import RULES, evaluate_batch
from alarms.models import AlarmRule
from devtools.device_simulator import Fleet
from devtools.ingest_bench import BenchDatabase, ingest_benchmark
from telemetry.device_types import DEVICE_TYPES
from telemetry.services import RawMessage, reading_parse


def bench_rules(count: int) -> list[dict]:
    """``count`` rules: a state and a silence rule per type, then metric rules (gt/lt, then outside) in turn."""
    rules = [
        {"name": f"{t} {k}", "device_type": t, "kind": k, "states": "ALERT,CRITICAL" if k == "state" else ""}
        for t in DEVICE_TYPES
        for k in ("state", "silence")
    ]
    pairs = [(t, m) for t in DEVICE_TYPES.values() for m in t.metrics]
    round_ = 0
    while len(rules) < count:
        for kind, metric in pairs:
            if len(rules) >= count:
                break
            width = metric.high - metric.low
            high, low = metric.high + width * ALERT_EXCESS, metric.low - width * ALERT_EXCESS
            operator = "outside" if round_ else ("gt" if metric.bad_direction > 0 else "lt")
            rules.append(
                {
                    "name": f"{kind.name} {metric.name} {operator} {round_}",
                    "device_type": kind.name,
                    "kind": "metric",
                    "metric": metric.name,
                    "operator": operator,
                    "low": low,
                    "high": high,
                    "hysteresis": width * (ALERT_EXCESS - WARN_EXCESS),
                    "for_s": 30.0,
                }
            )
        round_ += 1
    return rules


def _readings(fleet: Fleet, at: datetime) -> list:
    out = []
    for device in fleet.devices:
        payload = fleet.reading(device, at)
        topic = f"{settings.MQTT_TOPIC_PREFIX}/{device.site_id}/{device.kind.name}/{device.device_id}"
        out.append(reading_parse(RawMessage(topic, json.dumps(payload).encode())))
    return out


class _UsingDatabase:
    """Point this process's default connection at another database for a while."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self):
        connection = connections["default"]
        connection.close()
        self.previous = connection.settings_dict["NAME"]
        connection.settings_dict["NAME"] = self.name

    def __exit__(self, *exc):
        connection = connections["default"]
        connection.close()
        connection.settings_dict["NAME"] = self.previous


def evaluation_benchmark(*, devices: int = 100_000, rules: int = 50, rounds: int = 2, batch: int = 500, log=None) -> dict:
    database = BenchDatabase()
    database.create()
    try:
        with _UsingDatabase(database.name):
            AlarmRule.objects.all().delete()
            AlarmRule.objects.bulk_create(AlarmRule(**{"severity": "major", **r}) for r in bench_rules(rules))
            RULES.reload()
            fleet = Fleet(devices=devices, seed=5, fault_rate=0.01)
            base = datetime.now(UTC) - timedelta(hours=1)
            evaluations = raised = 0
            seconds = 0.0
            for round_number in range(rounds):
                readings = _readings(fleet, base + timedelta(seconds=60 * round_number))
                started = time.perf_counter()
                for offset in range(0, len(readings), batch):
                    outcome = evaluate_batch(SimpleNamespace(readings=readings[offset : offset + batch]))
                    evaluations += outcome.evaluations
                    raised += outcome.raised
                seconds += time.perf_counter() - started
                if log:
                    log(f"round {round_number + 1}/{rounds}: {evaluations} evaluations, {raised} alarms raised")
            RULES.loaded_at = float("-inf")
        return {
            "devices": devices,
            "rules": rules,
            "rounds": rounds,
            "batch": batch,
            "evaluations": evaluations,
            "alarms_raised": raised,
            "seconds": round(seconds, 2),
            "evaluations_per_s": round(evaluations / seconds),
            "readings_per_s": round(devices * rounds / seconds),
        }
    finally:
        database.drop()


def _alarm_figures(conn, consumer_log: str) -> dict:
    """What the run's consumer did with the rules: its evaluation totals (logged at exit, live and drain
    phases summed) and the rule states and alarms it left: proof that "on" evaluated and "off" did not."""
    one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    totals = {"batches": 0, "readings": 0, "evaluations": 0, "seconds": 0.0}
    for line in consumer_log.splitlines():
        if '"alarm evaluation totals"' in line:
            entry = json.loads(line)
            for key in totals:
                totals[key] += entry.get(key, 0)
    totals["seconds"] = round(totals["seconds"], 2)
    return {
        "alarms": {
            "rules_enabled": one("SELECT count(*) FROM alarms_alarmrule WHERE enabled"),
            "rule_states": one("SELECT count(*) FROM alarms_rulestate"),
            "alarms_raised": one("SELECT count(*) FROM alarms_alarm"),
            "evaluated": totals,
        }
    }


def median_eval_ms(runs: list) -> float | None:
    costs = [
        1000 * 1000 * r["on"]["alarms"]["evaluated"]["seconds"] / r["on"]["alarms"]["evaluated"]["readings"]
        for r in runs
        if r["on"]["alarms"]["evaluated"]["readings"]
    ]
    return round(statistics.median(costs), 2) if costs else None


def ingest_pairs(*, pairs: int = 3, messages: int = 20_000, devices: int = 100_000, log=None) -> dict:
    """bench_ingest's run with the default rules off, then on (ALARMS_ENABLED), ``pairs`` times; medians and ratios.

    Evaluation runs inside each batch's store transaction, so it is on the
    consumer's critical path: the throughput ratio and the p50 latency both say
    what it costs. ``within_10pct`` is the issue's bound on the median throughputs.
    """
    runs = []
    previous = os.environ.get("ALARMS_ENABLED")
    keep = ("msgs_per_s", "p50_ms", "p99_ms", "lost", "drain_msgs_per_s", "alarms")
    try:
        for _ in range(pairs):
            pair = {}
            for label, flag in (("off", "0"), ("on", "1")):
                os.environ["ALARMS_ENABLED"] = flag  # the consumer process inherits it
                figures = ingest_benchmark(messages=messages, devices=devices, log=log, inspect=_alarm_figures)
                pair[label] = {k: figures[k] for k in keep}
            pair["on_to_off"] = (
                round(pair["on"]["msgs_per_s"] / pair["off"]["msgs_per_s"], 3) if pair["off"]["msgs_per_s"] else None
            )
            runs.append(pair)
    finally:
        if previous is None:
            os.environ.pop("ALARMS_ENABLED", None)
        else:
            os.environ["ALARMS_ENABLED"] = previous

    def median(label: str, key: str):
        values = [r[label][key] for r in runs if r[label][key] is not None]
        return statistics.median(values) if values else None

    off, on = median("off", "msgs_per_s"), median("on", "msgs_per_s")
    ratio = round(on / off, 3) if off else None
    return {
        "pairs": runs,
        "median_off_msgs_per_s": off,
        "median_on_msgs_per_s": on,
        "on_to_off": ratio,
        "within_10pct": ratio is not None and ratio >= 0.9,
        "median_off_p50_ms": median("off", "p50_ms"),
        "median_on_p50_ms": median("on", "p50_ms"),
        "median_off_drain_msgs_per_s": median("off", "drain_msgs_per_s"),
        "median_on_drain_msgs_per_s": median("on", "drain_msgs_per_s"),
        "lost": sum(r[label]["lost"] for r in runs for label in ("off", "on")),
        "evaluated_when_on": all(r["on"]["alarms"]["evaluated"]["readings"] > 0 for r in runs),
        "evaluated_when_off": any(r["off"]["alarms"]["evaluated"]["readings"] > 0 for r in runs),
        # The consumer's seconds inside rule evaluation per 1,000 readings, median over the "on" runs.
        "median_eval_ms_per_1000_readings": median_eval_ms(runs),
        "measured": "bench_ingest (simulator -> Mosquitto -> run_mqtt_consumer -> PostgreSQL), default rules, off then on",
    }
