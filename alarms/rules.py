"""What a rule says about one reading: breach, clear, or hold (inside the hysteresis band).

Pure functions over plain values, so the engine, the benchmark and the tests
share one definition of a condition.
"""

import time
from dataclasses import dataclass

from alarms.models import AlarmRule

BREACH, CLEAR, HOLD = "breach", "clear", "hold"


@dataclass(frozen=True, slots=True)
class Rule:
    """An enabled rule as the engine holds it (a snapshot of the row)."""

    id: int
    name: str
    device_type: str
    site_id: str
    device_id: str
    kind: str
    metric: str
    operator: str
    low: float | None
    high: float | None
    hysteresis: float
    states: frozenset
    for_s: float
    severity: str

    @classmethod
    def of(cls, row: AlarmRule) -> "Rule":
        states = frozenset(s.strip().upper() for s in row.states.split(",") if s.strip())
        return cls(
            row.id,
            row.name,
            row.device_type,
            row.site_id,
            row.device_id,
            row.kind,
            row.metric,
            row.operator,
            row.low,
            row.high,
            row.hysteresis,
            states,
            row.for_s,
            row.severity,
        )

    def applies(self, site_id: str, device_id: str) -> bool:
        return (not self.site_id or self.site_id == site_id) and (not self.device_id or self.device_id == device_id)


def metric_verdict(rule: Rule, value: float) -> str:
    low, high, margin = rule.low, rule.high, rule.hysteresis
    too_high = rule.operator in ("gt", "outside") and high is not None
    too_low = rule.operator in ("lt", "outside") and low is not None
    if (too_high and value > high) or (too_low and value < low):
        return BREACH
    if (too_high and value > high - margin) or (too_low and value < low + margin):
        return HOLD
    return CLEAR


def verdict(rule: Rule, reading) -> tuple[str, float | None] | None:
    """The verdict of ``rule`` on a ``ValidReading`` and the value judged; None when the rule has nothing to say."""
    if rule.kind == AlarmRule.Kind.SILENCE:
        return CLEAR, None  # the device spoke
    if rule.kind == AlarmRule.Kind.STATE:
        return (BREACH if reading.state in rule.states else CLEAR), None
    value = reading.payload.get("metrics", {}).get(rule.metric)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return metric_verdict(rule, float(value)), float(value)


def breach_check(rule: Rule):
    """``check(reading, metrics) -> bool``: does this reading breach ``rule``? (None for silence rules.)

    The consumer's hot path asks it of every (reading, rule): one closure with the
    limits bound, the same answer as ``metric_verdict(...) == BREACH``.
    """
    if rule.kind == AlarmRule.Kind.SILENCE:
        return None
    if rule.kind == AlarmRule.Kind.STATE:
        states = rule.states
        return lambda reading, _metrics: reading.state in states
    metric, low, high = rule.metric, rule.low, rule.high
    above = rule.operator in ("gt", "outside") and high is not None
    below = rule.operator in ("lt", "outside") and low is not None

    def check(_reading, metrics: dict) -> bool:
        value = metrics.get(metric)
        if value is None or value.__class__ is bool or not isinstance(value, int | float):
            return False
        return (above and value > high) or (below and value < low)

    return check


class RuleCache:
    """Enabled rules by device type, re-read every ``ttl_s`` (rules change rarely; evaluation is per batch)."""

    def __init__(self, ttl_s: float = 2.0) -> None:
        self.ttl_s = ttl_s
        self.loaded_at = float("-inf")
        self.by_type: dict[str, list[Rule]] = {}
        # device type -> [(rule id, scoped: bool, rule, breach check)] for the rules a reading can breach
        self.checks: dict[str, list[tuple]] = {}

    def _fresh(self) -> None:
        if time.monotonic() - self.loaded_at > self.ttl_s:
            self.reload()

    def rules_for(self, device_type: str) -> list[Rule]:
        self._fresh()
        return self.by_type.get(device_type, [])

    def checks_for(self, device_type: str) -> tuple[int, list[tuple]]:
        """How many rules the type has, and the breach checks of those a reading can breach."""
        self._fresh()
        return len(self.by_type.get(device_type, ())), self.checks.get(device_type, [])

    def reload(self) -> None:
        by_type: dict[str, list[Rule]] = {}
        for row in AlarmRule.objects.filter(enabled=True).order_by("id"):
            by_type.setdefault(row.device_type, []).append(Rule.of(row))
        self.checks = {
            device_type: [(r.id, bool(r.site_id or r.device_id), r, breach_check(r)) for r in rules if r.kind != "silence"]
            for device_type, rules in by_type.items()
        }
        self.by_type = by_type
        self.loaded_at = time.monotonic()
