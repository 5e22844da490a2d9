"""Alarm writes: raise, update, clear (batched per evaluation), acknowledge, silences, the outbox.

Every alarm change and the notifications announcing it are written in one
transaction: the notifier can only send what was committed, and nothing
committed is lost (see ``alarms.notifier``).
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from alarms.models import SEVERITY_RANK, Alarm, AlarmRule, AlarmTransition, NotificationOutbox, Receiver, RuleState, Silence
from alarms.rules import BREACH, CLEAR


class AlarmError(ValueError):
    """A change the alarm's state does not allow (the API answers 409 with the text)."""


def _detail(rule, value: float | None) -> str:
    if rule.kind == "metric":
        limits = {"gt": f"> {rule.high}", "lt": f"< {rule.low}", "outside": f"outside [{rule.low}, {rule.high}]"}
        return f"{rule.metric} = {value:g} ({limits[rule.operator]})"
    if rule.kind == "state":
        return f"state in {', '.join(sorted(rule.states))}"
    return "no message (device offline)"


@dataclass
class Work:
    """What one evaluation changes, gathered pair by pair and written at the end in a few bulk statements."""

    now: datetime
    open_alarms: dict = field(default_factory=dict)  # id -> Alarm (the pairs' open alarms, locked with their state)
    new: list = field(default_factory=list)  # Alarm objects to create
    changed: dict = field(default_factory=dict)  # id -> existing Alarm updated
    transitions: list = field(default_factory=list)  # (Alarm, action)
    states: list = field(default_factory=list)  # (RuleState to keep, Alarm or None)
    finished: list = field(default_factory=list)  # RuleState ids with nothing left to remember

    def pair(self, rule, state_id, device_id, site_id, device_type, breach_since, last_ts, alarm_id, verdicts) -> None:
        silence = rule.kind == "silence"  # one liveness event: no timer, no device clock to order by
        alarm = self.open_alarms.get(alarm_id)
        for ts, judged, value in verdicts:
            if not silence and ts <= last_ts:
                continue  # an older or redelivered reading: already judged
            last_ts = max(last_ts, ts)
            if judged == BREACH:
                breach_since = breach_since or ts
                if alarm is not None:
                    self._repeat(alarm, ts, value)
                elif silence or (ts - breach_since).total_seconds() >= rule.for_s:
                    alarm = self._raise(rule, device_id, site_id, device_type, breach_since, ts, value)
            elif judged == CLEAR:
                breach_since = None
                if alarm is not None:
                    self._clear(alarm, ts)
                    alarm = None
        if breach_since is None and alarm is None:
            self.finished.append(state_id)
        else:
            self.states.append((RuleState(id=state_id, breach_since=breach_since, last_ts=last_ts), alarm))

    def _raise(self, rule, device_id, site_id, device_type, since, ts, value) -> Alarm:
        alarm = Alarm(
            rule_id=rule.id,
            device_id=device_id,
            site_id=site_id,
            device_type=device_type,
            severity=rule.severity,
            last_value=value,
            detail=_detail(rule, value)[:200],
            first_at=since,
            last_at=ts,
        )
        alarm.rule_name = rule.name
        self.new.append(alarm)
        self.transitions.append((alarm, AlarmTransition.Action.RAISED))
        return alarm

    def _repeat(self, alarm: Alarm, ts, value) -> None:
        alarm.count += 1
        alarm.last_at = max(alarm.last_at, ts)
        if value is not None:
            alarm.last_value = value
        if alarm.pk:
            self.changed[alarm.pk] = alarm

    def _clear(self, alarm: Alarm, ts) -> None:
        alarm.active = False
        alarm.cleared_at = max(ts, alarm.last_at)
        if alarm.pk:
            self.changed[alarm.pk] = alarm
        self.transitions.append((alarm, AlarmTransition.Action.CLEARED))


def _drop_retired(work: Work) -> None:
    """New alarms of rules disabled meanwhile (an engine's rule cache lags by up to its TTL) are not raised.

    ``FOR SHARE`` holds the rules until this transaction commits, so a concurrent
    ``rule_retire`` waits for it and then clears what it raised.
    """
    if not work.new:
        return
    rule_ids = {a.rule_id for a in work.new}
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM alarms_alarmrule WHERE id = ANY(%s) AND enabled FOR SHARE", [sorted(rule_ids)])
        live = {row[0] for row in cursor.fetchall()}
    if live == rule_ids:
        return
    dropped = {id(a) for a in work.new if a.rule_id not in live}
    work.new = [a for a in work.new if id(a) not in dropped]
    work.transitions = [(a, act) for a, act in work.transitions if id(a) not in dropped]
    work.states = [(st, None if a is not None and id(a) in dropped else a) for st, a in work.states]


def work_commit(work: Work, outcome) -> None:
    """Write what ``work`` gathered (inside the caller's transaction)."""
    _drop_retired(work)
    Alarm.objects.bulk_create(work.new)
    if work.changed:
        Alarm.objects.bulk_update(list(work.changed.values()), ["count", "last_value", "last_at", "active", "cleared_at"])
    for state, alarm in work.states:
        state.alarm_id = alarm.pk if alarm is not None and alarm.active else None
    RuleState.objects.bulk_update([s for s, _a in work.states], ["breach_since", "last_ts", "alarm_id"])
    if work.finished:
        RuleState.objects.filter(id__in=work.finished).delete()
    AlarmTransition.objects.bulk_create(AlarmTransition(alarm=a, action=action, at=work.now) for a, action in work.transitions)
    outbox_write([(a, action) for a, action in work.transitions], now=work.now)
    outcome.raised += sum(1 for _a, action in work.transitions if action == AlarmTransition.Action.RAISED)
    outcome.cleared += sum(1 for _a, action in work.transitions if action == AlarmTransition.Action.CLEARED)
    outcome.updated += len(work.changed)
    outcome.alarms.extend(work.transitions)


# --- notifications -------------------------------------------------------------------------
def receiver_routes(receiver: Receiver, alarm: Alarm) -> bool:
    sites = {s.strip() for s in receiver.sites.split(",") if s.strip()}
    return SEVERITY_RANK[alarm.severity] >= SEVERITY_RANK[receiver.min_severity] and (not sites or alarm.site_id in sites)


def silence_matches(silence: Silence, alarm: Alarm) -> bool:
    return (
        (silence.rule_id is None or silence.rule_id == alarm.rule_id)
        and (not silence.site_id or silence.site_id == alarm.site_id)
        and (not silence.device_id or silence.device_id == alarm.device_id)
    )


def active_silences(now: datetime) -> list[Silence]:
    return list(Silence.objects.filter(starts_at__lte=now, ends_at__gt=now))


def alarm_document(alarm: Alarm) -> dict:
    def iso(moment):
        return moment.isoformat() if moment else None

    return {
        "id": alarm.pk,
        "rule_id": alarm.rule_id,
        "rule": getattr(alarm, "rule_name", None) or alarm.rule.name,
        "device_id": alarm.device_id,
        "device_type": alarm.device_type,
        "site_id": alarm.site_id,
        "severity": alarm.severity,
        "status": alarm.status,
        "count": alarm.count,
        "last_value": alarm.last_value,
        "detail": alarm.detail,
        "first_at": iso(alarm.first_at),
        "last_at": iso(alarm.last_at),
        "cleared_at": iso(alarm.cleared_at),
    }


def outbox_write(changes: list, *, now: datetime) -> int:
    """One outbox row per (alarm change, routed receiver); silenced ones are recorded as such, not sent."""
    raised_or_cleared = [(a, act) for a, act in changes if act in (AlarmTransition.Action.RAISED, AlarmTransition.Action.CLEARED)]
    if not raised_or_cleared:
        return 0
    receivers = list(Receiver.objects.filter(enabled=True))
    if not receivers:
        return 0
    silences = active_silences(now)
    rows = []
    for alarm, action in raised_or_cleared:
        event = NotificationOutbox.Event.FIRING if action == AlarmTransition.Action.RAISED else NotificationOutbox.Event.RESOLVED
        silenced = any(silence_matches(s, alarm) for s in silences)
        status = NotificationOutbox.Status.SILENCED if silenced else NotificationOutbox.Status.PENDING
        for receiver in receivers:
            if receiver_routes(receiver, alarm):
                key = uuid.uuid4()
                payload = {"key": str(key), "event": event, "alarm": alarm_document(alarm)}
                rows.append(
                    NotificationOutbox(
                        key=key, alarm=alarm, receiver=receiver, event=event, payload=payload, status=status, next_attempt_at=now
                    )
                )
    NotificationOutbox.objects.bulk_create(rows)
    return len(rows)


# --- staff actions -------------------------------------------------------------------------
@transaction.atomic
def alarm_acknowledge(*, alarm_id: int, user, comment: str = "") -> Alarm:
    alarm = Alarm.objects.select_for_update().get(pk=alarm_id)
    if alarm.acknowledged:
        raise AlarmError(f"alarm {alarm_id} was already acknowledged at {alarm.acknowledged_at:%Y-%m-%d %H:%M:%S} UTC")
    now = timezone.now()
    alarm.acknowledged, alarm.acknowledged_at, alarm.acknowledged_by = True, now, user
    alarm.save(update_fields=["acknowledged", "acknowledged_at", "acknowledged_by"])
    AlarmTransition.objects.create(alarm=alarm, action=AlarmTransition.Action.ACKNOWLEDGED, at=now, user=user, comment=comment)
    return alarm


def silence_create(
    *, user, reason: str, starts_at: datetime, ends_at: datetime, rule=None, site_id: str = "", device_id: str = ""
) -> Silence:
    if ends_at <= starts_at:
        raise AlarmError("a silence must end after it starts")
    if rule is None and not site_id and not device_id:
        raise AlarmError("a silence needs a rule, a site or a device")
    return Silence.objects.create(
        rule=rule, site_id=site_id, device_id=device_id, starts_at=starts_at, ends_at=ends_at, reason=reason, created_by=user
    )


# --- rules that stop running ---------------------------------------------------------------
RULE_DISABLED = "rule disabled"


class RuleInUse(AlarmError):
    """A rule with alarms in its history is disabled, not deleted (the history is the audit trail)."""


def rule_states_lock(rule_id: int) -> None:
    """Lock a rule's ``for`` timers in the engine's order (states, then the rule row, then alarms): no deadlock.

    Call it before the rule row is updated (disabling), in the same transaction.
    """
    list(RuleState.objects.select_for_update().filter(rule_id=rule_id).order_by("device_id").values_list("id", flat=True))


@transaction.atomic
def rule_retire(*, rule_id: int, reason: str = RULE_DISABLED, user=None) -> list[Alarm]:
    """Clear the open alarms of a rule that no longer runs, with ``reason``; forget its ``for`` timers.

    Nothing would ever clear them otherwise: the engine only judges enabled
    rules. Each clear is a transition (the user who disabled the rule, the
    reason as its comment) and a resolved notification, like any clear. The
    rule row is locked, so an evaluation still raising with a stale rule cache
    finishes first (and its alarm is cleared here) or sees the rule disabled.
    """
    rule_states_lock(rule_id)
    list(AlarmRule.objects.select_for_update().filter(pk=rule_id).values_list("id", flat=True))
    now = timezone.now()
    alarms = list(Alarm.objects.select_for_update().select_related("rule").filter(rule_id=rule_id, active=True))
    for alarm in alarms:
        alarm.active, alarm.cleared_at = False, now
    Alarm.objects.bulk_update(alarms, ["active", "cleared_at"])
    AlarmTransition.objects.bulk_create(
        AlarmTransition(alarm=a, action=AlarmTransition.Action.CLEARED, at=now, user=user, comment=reason) for a in alarms
    )
    outbox_write([(a, AlarmTransition.Action.CLEARED) for a in alarms], now=now)
    RuleState.objects.filter(rule_id=rule_id).delete()
    return alarms


@transaction.atomic
def rule_update(*, serializer, user) -> tuple[AlarmRule, list[Alarm]]:
    """Save a rule (API); disabling it clears its open alarms (``rule_retire``) in the same transaction."""
    was_enabled = serializer.instance.enabled
    if was_enabled and serializer.validated_data.get("enabled") is False:
        rule_states_lock(serializer.instance.pk)
    rule = serializer.save()
    cleared = rule_retire(rule_id=rule.pk, user=user) if was_enabled and not rule.enabled else []
    return rule, cleared


@transaction.atomic
def rule_delete(*, rule: AlarmRule, user) -> None:
    """Delete a rule that never raised an alarm; one with history must be disabled instead (``RuleInUse``)."""
    history = Alarm.objects.filter(rule=rule).count()
    if history:
        raise RuleInUse(
            f"rule {rule.name!r} has {history} alarm(s) in its history; disable it instead "
            "(its open alarms are then cleared with the reason 'rule disabled')"
        )
    rule.delete()
