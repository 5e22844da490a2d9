"""Writes for user sessions: the batch upsert, snapshots, idle sweep, SRE_User.

``sessions_store`` applies a whole consumer batch in one transaction with one
multi-row upsert for the events (``INSERT ... SELECT FROM unnest(...) ON
CONFLICT (session_id) DO UPDATE ... WHERE stored.last_event_at <
EXCLUDED.last_event_at``) and one multi-row insert for the snapshots. The
``WHERE`` makes the write idempotent and order-proof: a redelivered event
changes nothing and an older event never overwrites newer state.
"""

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django_redis import get_redis_connection

from sessions_app import selectors
from sessions_app.models import ConnectionStatus, SiteSnapshot, UserSession
from sessions_app.validation import SessionEvent, Snapshot

logger = logging.getLogger(__name__)

_TABLE = UserSession._meta.db_table

_UPSERT_SQL = f"""
INSERT INTO {_TABLE} AS s (
    user_id, username, session_id, connection_status, region, ip_address, site_id,
    login_time, logout_time, last_activity, last_event, last_event_at, stored_at
)
SELECT u.user_id, u.username, u.session_id, u.connection_status, u.region, u.ip_address::inet, u.site_id,
       u.login_time, u.logout_time, u.last_activity, u.last_event, u.last_event_at, clock_timestamp()
FROM unnest(
    %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
    %s::timestamptz[], %s::timestamptz[], %s::timestamptz[], %s::text[], %s::timestamptz[]
) AS u(user_id, username, session_id, connection_status, region, ip_address, site_id,
       login_time, logout_time, last_activity, last_event, last_event_at)
ON CONFLICT (session_id) DO UPDATE SET
    user_id = EXCLUDED.user_id,
    username = CASE WHEN EXCLUDED.username <> '' THEN EXCLUDED.username ELSE s.username END,
    connection_status = EXCLUDED.connection_status,
    region = EXCLUDED.region,
    ip_address = COALESCE(EXCLUDED.ip_address, s.ip_address),
    site_id = CASE WHEN EXCLUDED.site_id <> '' THEN EXCLUDED.site_id ELSE s.site_id END,
    login_time = LEAST(s.login_time, EXCLUDED.login_time),
    logout_time = EXCLUDED.logout_time,
    last_activity = GREATEST(s.last_activity, EXCLUDED.last_activity),
    last_event = EXCLUDED.last_event,
    last_event_at = EXCLUDED.last_event_at,
    stored_at = EXCLUDED.stored_at
WHERE s.last_event_at < EXCLUDED.last_event_at
"""  # noqa: S608 - the table name is the model's; every value is a parameter


@dataclass
class StoreResult:
    events: int = 0  # events in the batch
    applied: int = 0  # session rows inserted or moved forward
    superseded: int = 0  # events older than (or equal to) what was stored or batched: no effect
    snapshots: int = 0  # new snapshots stored (redelivered ones are skipped)
    changed_sites: set = field(default_factory=set)


def _newest_per_session(events: list[SessionEvent]) -> list[SessionEvent]:
    """One event per session for the upsert (a statement may touch a row once).

    The newest event wins; facts carried by the older ones in the batch (login
    time, latest activity) are kept, as applying them one by one would have.
    """
    newest: dict[str, SessionEvent] = {}
    for event in events:
        kept = newest.get(event.session_id)
        if kept is None:
            newest[event.session_id] = event
            continue
        winner, other = (event, kept) if event.timestamp > kept.timestamp else (kept, event)
        if other.login_time and (winner.login_time is None or other.login_time < winner.login_time):
            winner.login_time = other.login_time
        if other.last_activity and (winner.last_activity is None or other.last_activity > winner.last_activity):
            winner.last_activity = other.last_activity
        newest[event.session_id] = winner
    return list(newest.values())


def session_events_upsert(*, events: list[SessionEvent]) -> int:
    """Apply ``events`` in one statement; returns the number of rows written."""
    rows = _newest_per_session(events)
    if not rows:
        return 0
    columns = (
        [r.user_id for r in rows],
        [r.username for r in rows],
        [r.session_id for r in rows],
        [r.connection_status for r in rows],
        [r.region for r in rows],
        [r.ip_address for r in rows],
        [r.site_id for r in rows],
        [r.login_time for r in rows],
        [r.logout_time for r in rows],
        [r.last_activity for r in rows],
        [r.event for r in rows],
        [r.timestamp for r in rows],
    )
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT_SQL, columns)
        return cursor.rowcount


def site_snapshots_insert(*, snapshots: list[Snapshot]) -> int:
    """Store snapshots, skipping ``message_id``s already stored; returns how many were new."""
    if not snapshots:
        return 0
    before = SiteSnapshot.objects.filter(message_id__in=[s.message_id for s in snapshots]).count()
    unique = {s.message_id: s for s in snapshots}
    SiteSnapshot.objects.bulk_create(
        [
            SiteSnapshot(
                message_id=s.message_id,
                site_id=s.site_id,
                timestamp_utc=s.timestamp_utc,
                active_users=s.active_users,
                active_connections=s.active_connections,
                server_cpu_pct=s.server_cpu_pct,
                server_memory_gb=s.server_memory_gb,
                average_latency_ms=s.average_latency_ms,
                payload=s.payload,
            )
            for s in unique.values()
        ],
        ignore_conflicts=True,
    )
    return len(unique) - before


def sessions_store(*, events: list[SessionEvent], snapshots: list[Snapshot]) -> StoreResult:
    """Store one consumer batch atomically (the caller acknowledges after this returns)."""
    with transaction.atomic():
        stored_snapshots = site_snapshots_insert(snapshots=snapshots)
        # Last, so the rows' stored_at (the statement's clock) is as near the commit as it gets.
        applied = session_events_upsert(events=events)
    return StoreResult(
        events=len(events),
        applied=applied,
        superseded=len(events) - applied,
        snapshots=stored_snapshots,
        changed_sites={e.site_id for e in events if e.site_id} | {s.site_id for s in snapshots},
    )


def sessions_mark_idle(*, now: datetime | None = None, idle_after_s: int | None = None) -> int:
    """Mark active sessions idle after ``idle_after_s`` (default 5 minutes) without activity."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=idle_after_s if idle_after_s is not None else settings.SESSIONS_IDLE_AFTER_S)
    # A session whose activity time is unknown falls back to its last event's time.
    stale = Q(last_activity__lt=cutoff) | Q(last_activity__isnull=True, last_event_at__lt=cutoff)
    return UserSession.objects.filter(stale, connection_status=ConnectionStatus.ACTIVE).update(
        connection_status=ConnectionStatus.IDLE
    )


def sessions_sweep(*, idle_after_s: int | None = None) -> int:
    """Mark idle sessions, then refresh ``SRE_User`` (online times move on even when none changed)."""
    marked = sessions_mark_idle(idle_after_s=idle_after_s)
    sre_user_publish()
    return marked


def sre_user_publish(*, summary: dict | None = None, key: str | None = None) -> dict:
    """Write the wireframe's ``SRE_User`` summary (computed from the database) to Redis."""
    summary = summary if summary is not None else selectors.session_summary()
    get_redis_connection("default").set(key or settings.SESSIONS_SRE_USER_KEY, json.dumps(summary, separators=(",", ":")))
    return summary


def sessions_delete(*, site_id: str) -> int:
    """Remove the sessions and snapshots of one site (benchmark and drill clean-up)."""
    deleted, _ = UserSession.objects.filter(site_id=site_id).delete()
    snapshots, _ = SiteSnapshot.objects.filter(site_id=site_id).delete()
    return deleted + snapshots
