"""Alarm reads: the filtered list (active first, by severity), the grouped view, counts per severity."""

from django.db.models import Case, Count, IntegerField, Max, Q, QuerySet, Value, When

from alarms.models import SEVERITY_RANK, Alarm

STATES = ("active", "cleared", "unacknowledged", "acknowledged", "active_unack", "active_ack", "cleared_unack", "cleared_ack")


def _severity_rank():
    return Case(*[When(severity=s, then=Value(r)) for s, r in SEVERITY_RANK.items()], output_field=IntegerField())


def _state_filter(state: str) -> Q:
    parts = state.split("_")
    q = Q()
    if parts[0] in ("active", "cleared"):
        q &= Q(active=parts[0] == "active")
    flag = parts[-1] if len(parts) == 2 else (parts[0] if parts[0] in ("acknowledged", "unacknowledged") else None)
    if flag in ("ack", "acknowledged"):
        q &= Q(acknowledged=True)
    elif flag in ("unack", "unacknowledged"):
        q &= Q(acknowledged=False)
    return q


def alarm_list(
    *,
    site_id: str | None = None,
    severity: str | None = None,
    state: str | None = None,
    rule_id: int | None = None,
    device_id: str | None = None,
) -> QuerySet:
    alarms = Alarm.objects.select_related("rule", "acknowledged_by")
    if site_id:
        alarms = alarms.filter(site_id=site_id)
    if severity:
        alarms = alarms.filter(severity=severity)
    if state:
        alarms = alarms.filter(_state_filter(state))
    if rule_id:
        alarms = alarms.filter(rule_id=rule_id)
    if device_id:
        alarms = alarms.filter(device_id=device_id)
    return alarms.annotate(rank=_severity_rank()).order_by("-active", "-rank", "-last_at", "-id")


def alarm_groups(alarms: QuerySet) -> QuerySet:
    """One row per (site, rule): a site-wide failure is one row that expands (filter by site_id and rule)."""
    return (
        alarms.order_by()
        .values("site_id", "rule_id", "rule__name", "severity")
        .annotate(
            alarms=Count("id"),
            active=Count("id", filter=Q(active=True)),
            unacknowledged=Count("id", filter=Q(acknowledged=False)),
            last_at=Max("last_at"),
            rank=_severity_rank(),
        )
        .annotate(live=Case(When(active__gt=0, then=Value(1)), default=Value(0), output_field=IntegerField()))
        .order_by("-live", "-rank", "-active", "site_id", "rule__name")
    )


def active_counts() -> list[dict]:
    """Active alarms per (severity, site): the header's counts and the Prometheus gauge."""
    return list(Alarm.objects.filter(active=True).order_by().values("severity", "site_id").annotate(count=Count("id")))


def active_by_severity() -> dict[str, int]:
    """Active alarms per severity, every severity present (the page header)."""
    counts = dict.fromkeys(SEVERITY_RANK, 0)
    for row in Alarm.objects.filter(active=True).order_by().values("severity").annotate(n=Count("id")):
        counts[row["severity"]] = row["n"]
    return {str(severity): n for severity, n in counts.items()}
