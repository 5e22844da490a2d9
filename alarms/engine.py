"""Rule evaluation on each stored telemetry batch, and silence alarms from device liveness.

Per batch: the rules of each reading's device type give a verdict per
(rule, device) in timestamp order; the pairs' shared state (``RuleState``: the
``for`` timer and the open alarm) is read and locked in one statement, ordered,
so competing consumers holding the same device's messages take turns instead of
racing or deadlocking. Only pairs whose condition holds get a state row, so a
healthy batch costs one SELECT. Raising and clearing go through
``alarms.services`` in the same transaction (alarm, transition, outbox).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from alarms import services
from alarms.models import Alarm, AlarmRule
from alarms.rules import BREACH, CLEAR, RuleCache, verdict

logger = logging.getLogger(__name__)
RULES = RuleCache()

INSERT_STATES = """
INSERT INTO alarms_rulestate (rule_id, device_id, breach_since, last_ts)
SELECT r, d, NULL, '1970-01-01T00:00:00Z' FROM unnest(%s::bigint[], %s::text[]) AS i(r, d)
ORDER BY r, d
ON CONFLICT (rule_id, device_id) DO NOTHING
"""

LOCK_STATES = """
SELECT s.id, s.rule_id, s.device_id, s.breach_since, s.last_ts, s.alarm_id
FROM alarms_rulestate s JOIN unnest(%s::bigint[], %s::text[]) AS i(r, d) ON s.rule_id = i.r AND s.device_id = i.d
ORDER BY s.rule_id, s.device_id
FOR UPDATE OF s
"""


@dataclass
class Outcome:
    raised: int = 0
    cleared: int = 0
    updated: int = 0
    evaluations: int = 0
    alarms: list = field(default_factory=list)  # (action, alarm) for live events


def _verdicts(readings, rules: RuleCache) -> tuple[dict, dict]:
    """(rule_id, device_id) -> [(ts, verdict, value)] in time order, and each device's (site, type)."""
    pairs: dict[tuple[int, str], list] = {}
    devices: dict[str, tuple[str, str]] = {}
    for reading in sorted(readings, key=lambda r: r.timestamp):
        for rule in rules.rules_for(reading.device_type):
            if not rule.applies(reading.site_id, reading.device_id):
                continue
            judged = verdict(rule, reading)
            if judged is None:
                continue
            pairs.setdefault((rule.id, reading.device_id), []).append((reading.timestamp, *judged))
            devices[reading.device_id] = (reading.site_id, reading.device_type)
    return pairs, devices


def evaluate_pairs(pairs: dict, devices: dict, rules: RuleCache, *, now: datetime | None = None) -> Outcome:
    """Apply verdicts to the shared state of their (rule, device) pairs, in one transaction."""
    outcome = Outcome(evaluations=sum(len(v) for v in pairs.values()))
    if not pairs:
        return outcome
    keys = sorted(pairs)
    breaching = [k for k in keys if any(v == BREACH for _ts, v, _x in pairs[k])]
    by_id = {rule.id: rule for group in rules.by_type.values() for rule in group}
    with transaction.atomic(), connection.cursor() as cursor:
        if breaching:
            cursor.execute(INSERT_STATES, [[k[0] for k in breaching], [k[1] for k in breaching]])
        cursor.execute(LOCK_STATES, [[k[0] for k in keys], [k[1] for k in keys]])
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
                continue  # disabled since this batch was judged
            site_id, device_type = devices[device_id]
            work.pair(
                rule, state_id, device_id, site_id, device_type, breach_since, last_ts, alarm_id, pairs[(rule_id, device_id)]
            )
        services.work_commit(work, outcome)
    return outcome


def evaluate_batch(result) -> Outcome | None:
    """The after-store hook: evaluate every rule on the readings of a stored batch."""
    if not settings.ALARMS_ENABLED or not getattr(result, "readings", None):
        return None
    pairs, devices = _verdicts(result.readings, RULES)
    return evaluate_pairs(pairs, devices, RULES)


def on_devices_offline(transitions) -> Outcome | None:
    """Liveness's "went silent" is the silence rules' alarm (called in the same transaction)."""
    if not settings.ALARMS_ENABLED:
        return None
    pairs: dict = {}
    devices: dict = {}
    for device in transitions.devices:
        for rule in RULES.rules_for(device["device_type"]):
            if rule.kind == AlarmRule.Kind.SILENCE and rule.applies(device["site_id"], device["device_id"]):
                since = device["last_seen"] + timedelta(seconds=settings.DEVICE_OFFLINE_AFTER_S)
                pairs[(rule.id, device["device_id"])] = [(since, BREACH, None)]
                devices[device["device_id"]] = (device["site_id"], device["device_type"])
    return evaluate_pairs(pairs, devices, RULES)


def register() -> None:
    from telemetry.liveness import register_on_offline
    from tier0site.workers import register_after_store

    register_after_store("telemetry", evaluate_batch)
    register_on_offline(on_devices_offline)


__all__ = ["CLEAR", "RULES", "evaluate_batch", "evaluate_pairs", "on_devices_offline", "register"]
