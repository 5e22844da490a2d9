"""The idle sweep, and the simulator's sessions living by the rules the consumer checks."""

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django_redis import get_redis_connection

from devtools.user_simulator import Population, message_stream
from sessions_app.models import UserSession
from sessions_app.services import sessions_mark_idle
from sessions_app.sweeper import Sweeper
from sessions_app.validation import SessionEvent, Snapshot, message_parse
from tier0site.workers import worker_heartbeats


def _session(session_id: str, *, status: str, last_activity, last_event_at=None):
    return UserSession.objects.create(
        user_id="USR-1",
        session_id=session_id,
        connection_status=status,
        region="US-WEST",
        last_activity=last_activity,
        last_event_at=last_event_at or last_activity or timezone.now(),
        stored_at=timezone.now(),
    )


@pytest.mark.django_db
def test_idle_sweep_marks_active_sessions_idle_after_five_minutes(sre_key, queue):
    now = timezone.now()
    _session("OLD", status="active", last_activity=now - timedelta(minutes=6))
    _session("FRESH", status="active", last_activity=now - timedelta(minutes=4))
    _session("UNKNOWN", status="active", last_activity=None, last_event_at=now - timedelta(minutes=7))
    _session("GONE", status="disconnected", last_activity=now - timedelta(hours=1))

    assert sessions_mark_idle(now=now) == 2
    status = dict(UserSession.objects.values_list("session_id", "connection_status"))
    assert status == {"OLD": "idle", "FRESH": "active", "UNKNOWN": "idle", "GONE": "disconnected"}
    assert sessions_mark_idle(now=now + timedelta(minutes=2)) == 1  # FRESH's turn

    # The sweeper process's step marks them and refreshes SRE_User, and says it is alive.
    _session("LATER", status="active", last_activity=now - timedelta(minutes=10))
    sweeper = Sweeper()
    sweeper.step()
    assert sweeper.marked == 1
    assert json.loads(get_redis_connection("default").get(sre_key))["by_status"]["idle"] == 4
    beat = next(b for b in worker_heartbeats() if b["worker"] == "sweeper")
    assert (beat["batches"], beat["messages_stored"]) == (1, 1)


def test_simulated_sessions_follow_login_active_idle_logout():
    clock = [datetime(2026, 11, 27, 1, 0, tzinfo=UTC)]

    def now():
        clock[0] += timedelta(seconds=1)
        return clock[0]

    population = Population(users=50, idle_after_s=60, seed=7, clock=now)
    ticks = iter(range(10**9))
    parse_now = datetime(2026, 11, 28, tzinfo=UTC)
    history: dict[str, list[str]] = {}
    snapshots = 0
    for message in message_stream(population, count=3000, snapshot_interval_s=500, monotonic=lambda: next(ticks)):
        parsed = message_parse(message.body, message_type=message.type, now=parse_now)
        if isinstance(parsed, Snapshot):
            snapshots += 1
            continue
        assert isinstance(parsed, SessionEvent)
        history.setdefault(parsed.session_id, []).append(parsed.event)
        if parsed.event == "idle":  # only after idle_after_s without activity
            assert parsed.timestamp - parsed.last_activity >= timedelta(seconds=60)
    assert snapshots >= 11
    allowed = {"login": {"active", "idle", "logout"}, "active": {"active", "idle", "logout"}, "idle": {"active", "logout"}}
    for events in history.values():
        assert events[0] == "login"
        for before, after in itertools.pairwise(events):
            assert after in allowed[before]
    seen = {kind for events in history.values() for kind in events}
    assert seen == {"login", "active", "idle", "logout"}
    regions = {u.region for u in population.users}
    assert {"US-WEST", "US-EAST", "EU-WEST", "APAC"} <= regions
