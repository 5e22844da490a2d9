"""Rule evaluation on each stored telemetry batch, and silence alarms from device liveness.

Per batch, inside the transaction that stores it (an in-store hook, so an
acknowledged batch has always been evaluated): the rules of each reading's device type give a verdict per
(rule, device) in timestamp order; the pairs' shared state (``RuleState``: the
``for`` timer and the open alarm) is read and locked in one statement, ordered,
so competing consumers holding the same device's messages take turns instead of
racing or deadlocking. Only pairs whose condition holds get a state row, so a
healthy batch costs one SELECT. Raising and clearing go through
``alarms.services`` in the same transaction (alarm, transition, outbox).
"""

import atexit
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from psycopg.errors import DeadlockDetected

from alarms import services
from alarms.live import EVENTS
from alarms.models import Alarm, AlarmRule
from alarms.rules import BREACH, CLEAR, RuleCache, verdict

logger = logging.getLogger(__name__)
RULES = RuleCache()
# What this process spent evaluating batches (logged at exit: bench_ingest --alarm-pairs reads it).
TOTALS = {"batches": 0, "readings": 0, "evaluations": 0, "seconds": 0.0}

INSERT_STATES = """
INSERT INTO alarms_rulestate (rule_id, device_id, breach_since, last_ts)
SELECT r, d, NULL, '1970-01-01T00:00:00Z' FROM unnest(%s::bigint[], %s::text[]) AS i(r, d)
ORDER BY r, d
ON CONFLICT (rule_id, device_id) DO NOTHING
"""

# Every state of the batch's devices, locked in one order (no deadlock between consumers). The ids go
# as one JSON array: json.dumps is several times cheaper than adapting a list of thousands of strings.
LOCK_STATES = """
SELECT id, rule_id, device_id, breach_since, last_ts, alarm_id FROM alarms_rulestate
WHERE device_id = ANY(ARRAY(SELECT jsonb_array_elements_text(%s::jsonb))) ORDER BY rule_id, device_id FOR UPDATE
"""


@dataclass
class Outcome:
    raised: int = 0
    cleared: int = 0
    updated: int = 0
    evaluations: int = 0
    alarms: list = field(default_factory=list)  # (alarm, action) for live events


@dataclass
class Judged:
    """A batch judged in memory: which (rule, device) pairs breach, and each device's readings in time order."""

    breaching: set = field(default_factory=set)
    readings: dict = field(default_factory=dict)  # device_id -> [ValidReading]
    devices: dict = field(default_factory=dict)  # device_id -> (site_id, device_type)
    evaluations: int = 0


def _judge(readings, rules: RuleCache) -> Judged:
    """The cheap pass over every (reading, rule): only breaches matter unless a pair already has state."""
    judged = Judged()
    breaching, by_device, devices = judged.breaching, judged.readings, judged.devices
    checks_by_type: dict = {}
    for reading in sorted(readings, key=lambda r: r.timestamp):
        device_id, device_type = reading.device_id, reading.device_type
        by_device.setdefault(device_id, []).append(reading)
        devices[device_id] = (reading.site_id, device_type)
        found = checks_by_type.get(device_type)
        if found is None:
            found = checks_by_type[device_type] = rules.checks_for(device_type)
        judged.evaluations += found[0]
        metrics = reading.payload.get("metrics") or {}
        for rule_id, scoped, rule, check in found[1]:
            if scoped and not rule.applies(reading.site_id, device_id):
                continue
            if check(reading, metrics):
                breaching.add((rule_id, device_id))
    return judged


def evaluate_states(breaching, devices: dict, verdicts_for, rules: RuleCache, *, now: datetime | None = None) -> Outcome:
    """Create state for new breaches, lock the devices' states, apply ``verdicts_for(rule, device_id)`` to each."""
    outcome = Outcome()
    keys = sorted(breaching)
    by_id = {rule.id: rule for group in rules.by_type.values() for rule in group}
    with transaction.atomic(), connection.cursor() as cursor:
        if keys:
            cursor.execute(INSERT_STATES, [[k[0] for k in keys], [k[1] for k in keys]])
        cursor.execute(LOCK_STATES, [json.dumps(sorted(devices))])
        states = cursor.fetchall()
        if not states:
            return outcome
        work = services.Work(now=now or timezone.now())
        open_ids = [row[5] for row in states if row[5] is not None]
        if open_ids:
            work.open_alarms = Alarm.objects.in_bulk(open_ids)
        for state_id, rule_id, device_id, breach_since, last_ts, alarm_id in states:
            rule = by_id.get(rule_id)
            if rule is None:
                continue  # disabled (services.rule_retire cleared its alarms) or newer than this cache
            site_id, device_type = devices[device_id]
            work.pair(
                rule, state_id, device_id, site_id, device_type, breach_since, last_ts, alarm_id, verdicts_for(rule, device_id)
            )
        services.work_commit(work, outcome)
    return outcome


def _retrying_deadlocks(evaluate, attempts: int = 3) -> Outcome:
    """Run ``evaluate`` again when PostgreSQL broke a deadlock by aborting it.

    Two consumers can each insert a state row the other's batch then locks; rows
    are taken in one order, but the insert and the lock are two statements, so
    the rare cycle is possible. Only outside a caller's transaction (the hook's case).
    """
    for attempt in range(attempts):
        try:
            return evaluate()
        except OperationalError as exc:
            if connection.in_atomic_block or not isinstance(exc.__cause__, DeadlockDetected) or attempt == attempts - 1:
                raise
            logger.info("alarm evaluation deadlock: retrying", extra={"attempt": attempt + 1})
    raise AssertionError("unreachable")


def evaluate_readings(readings, rules: RuleCache = None) -> Outcome:
    rules = rules or RULES
    judged = _judge(readings, rules)

    def verdicts_for(rule, device_id):
        out = []
        for reading in judged.readings[device_id]:
            found = verdict(rule, reading)
            if found is not None:
                out.append((reading.timestamp, *found))
        return out

    outcome = _retrying_deadlocks(lambda: evaluate_states(judged.breaching, judged.devices, verdicts_for, rules))
    outcome.evaluations = judged.evaluations
    return outcome


def evaluate_batch(result) -> Outcome | None:
    """The in-store hook: evaluate every rule on a batch's readings inside the transaction that stores them.

    The alarms, their transitions and their outbox rows commit with the readings
    or not at all: a consumer killed after the commit (and the acknowledgement)
    has already evaluated the batch, one killed before it gets the batch again.
    """
    if not settings.ALARMS_ENABLED or not getattr(result, "readings", None):
        return None
    started = time.perf_counter()
    outcome = evaluate_readings(result.readings)
    TOTALS["seconds"] += time.perf_counter() - started
    TOTALS["batches"] += 1
    TOTALS["readings"] += len(result.readings)
    TOTALS["evaluations"] += outcome.evaluations
    if isinstance(getattr(result, "hooks", None), dict):
        result.hooks["alarms"] = outcome
    transaction.on_commit(lambda: EVENTS.report(outcome))
    return outcome


def on_devices_offline(transitions) -> Outcome | None:
    """Liveness's "went silent" is the silence rules' alarm (called in the same transaction)."""
    if not settings.ALARMS_ENABLED:
        return None
    breaching, devices, since = set(), {}, {}
    for device in transitions.devices:
        for rule in RULES.rules_for(device["device_type"]):
            if rule.kind == AlarmRule.Kind.SILENCE and rule.applies(device["site_id"], device["device_id"]):
                breaching.add((rule.id, device["device_id"]))
                devices[device["device_id"]] = (device["site_id"], device["device_type"])
                since[device["device_id"]] = device["last_seen"] + timedelta(seconds=settings.DEVICE_OFFLINE_AFTER_S)

    def verdicts_for(rule, device_id):
        return [(since[device_id], BREACH, None)] if (rule.id, device_id) in breaching else []

    if not breaching:
        return None
    outcome = evaluate_states(breaching, devices, verdicts_for, RULES)
    transaction.on_commit(lambda: EVENTS.report(outcome, force=True))
    return outcome


def _log_totals() -> None:
    if TOTALS["batches"]:
        logger.info("alarm evaluation totals", extra={**TOTALS, "seconds": round(TOTALS["seconds"], 3)})


def register() -> None:
    from telemetry.liveness import register_on_offline
    from tier0site.worker_status import register_in_store

    register_in_store("telemetry", evaluate_batch)
    register_on_offline(on_devices_offline)
    atexit.register(_log_totals)


__all__ = ["CLEAR", "RULES", "evaluate_batch", "evaluate_readings", "on_devices_offline", "register"]
