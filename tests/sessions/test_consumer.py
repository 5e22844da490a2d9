"""The RabbitMQ consumer in this process: states, ordering, dead letters, SRE_User, live updates."""

import asyncio
import json
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django_redis import get_redis_connection

from devtools.amqp_publisher import Outgoing
from sessions_app import amqp, selectors
from sessions_app.amqp import SNAPSHOT_TYPE
from sessions_app.models import SiteSnapshot, UserSession
from tests.sessions.helpers import T0, consume, dead_letters, event, iso, publish, queue_depth

pytestmark = pytest.mark.django_db

# The seed's users_sample.json lacks its final closing brace; the message shape is what counts.
SAMPLE = json.loads((settings.SEED_DATA_DIR / "templates" / "users_sample.json").read_text().rstrip() + "\n}")


def _sample_snapshot(message_id: str, at, active_connections: int) -> dict:
    snapshot = json.loads(json.dumps(SAMPLE))
    snapshot.update(message_id=message_id, timestamp_utc=iso(at))
    snapshot["metrics"]["active_connections"] = active_connections
    return snapshot


def test_events_become_sessions_with_the_right_states(queue, sre_key):
    publish(
        queue,
        [
            event("SESS-A", "login", T0),
            event("SESS-A", "active", T0 + timedelta(seconds=30)),
            event("SESS-B", "login", T0, user_id="USR-2", region="EU-WEST", site_id="LON-WEB-01"),
            event("SESS-B", "active", T0 + timedelta(seconds=20), user_id="USR-2", region="EU-WEST", site_id="LON-WEB-01"),
            event("SESS-B", "idle", T0 + timedelta(minutes=6), user_id="USR-2", region="EU-WEST", site_id="LON-WEB-01"),
            event("SESS-C", "login", T0, user_id="USR-3"),
            event("SESS-C", "logout", T0 + timedelta(minutes=1), user_id="USR-3"),
            Outgoing(json.dumps(_sample_snapshot("MSG-1", T0, 289)).encode(), SNAPSHOT_TYPE),
        ],
    )
    consumer = consume(queue)

    a, b, c = (UserSession.objects.get(session_id=s) for s in ("SESS-A", "SESS-B", "SESS-C"))
    assert (a.connection_status, a.login_time, a.last_activity, a.logout_time) == (
        "active",
        T0,
        T0 + timedelta(seconds=30),
        None,
    )
    assert (b.connection_status, b.region, b.site_id, b.last_activity) == (
        "idle",
        "EU-WEST",
        "LON-WEB-01",
        T0 + timedelta(seconds=20),
    )
    assert (c.connection_status, c.logout_time, c.last_event) == ("disconnected", T0 + timedelta(minutes=1), "logout")
    assert str(a.ip_address) == "192.168.1.104"
    snapshot = SiteSnapshot.objects.get(message_id="MSG-1")
    assert (snapshot.site_id, snapshot.active_users, snapshot.active_connections) == ("SFO-WEB-01", 324, 289)
    assert len(snapshot.payload["active_users_list"]) == 3
    assert consumer.totals.received == 8 and consumer.totals.dead_lettered == 0
    assert queue_depth(queue)[0] == 0


def test_redelivered_and_out_of_order_events_keep_the_newest_state(queue, sre_key):
    # Newest first, each in its own batch: older events must not move the session back.
    publish(queue, [event("SESS-O", "logout", T0 + timedelta(minutes=10))])
    consume(queue)
    publish(queue, [event("SESS-O", "active", T0 + timedelta(minutes=5))])
    consume(queue)
    publish(queue, [event("SESS-O", "login", T0)])
    consume(queue)
    row = UserSession.objects.get(session_id="SESS-O")
    assert (row.connection_status, row.last_event_at, row.logout_time) == (
        "disconnected",
        T0 + timedelta(minutes=10),
        T0 + timedelta(minutes=10),
    )

    # In one batch, shuffled, and every message twice (a redelivery).
    messages = [
        event("SESS-P", "idle", T0 + timedelta(minutes=7)),
        event("SESS-P", "login", T0),
        event("SESS-P", "active", T0 + timedelta(minutes=1)),
    ]
    publish(queue, messages + messages)
    consumer = consume(queue)
    row = UserSession.objects.get(session_id="SESS-P")
    assert (row.connection_status, row.login_time, row.last_activity, row.last_event_at) == (
        "idle",
        T0,
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=7),
    )
    assert consumer.totals.applied == 1 and consumer.totals.superseded == 5
    assert UserSession.objects.filter(session_id__in=["SESS-O", "SESS-P"]).count() == 2


def test_malformed_and_invalid_messages_go_to_the_dead_letter_queue_with_a_reason(queue, sre_key):
    good = event("SESS-GOOD", "login", T0)
    bad = {
        b"{not json": "malformed JSON",
        b"[1, 2]": "must be a JSON object",
        json.dumps({**good, "session_id": None}).encode(): "missing session_id",
        json.dumps({**good, "event": "teleport"}).encode(): "event must be one of",
        json.dumps({**good, "connection_status": "idle"}).encode(): "contradicts event",
        json.dumps({**good, "timestamp": "9999-12-31T23:00:00"}).encode(): "more than an hour in the future",
        json.dumps({**good, "timestamp": "yesterday"}).encode(): "not an ISO 8601 time",
        b'{"event": "login", "event": "logout"}': "duplicate key",
        json.dumps({**good, "user_id": "x" * 51}).encode(): "longer than 50",
        # Valid JSON the database would refuse (NUL in text) is refused before it.
        json.dumps({**good, "session_id": "SESS-NUL", "username": "a\u0000b"}).encode(): "NUL characters",
        json.dumps({"message_id": "MSG-X", "site_id": "S", "timestamp_utc": iso(T0), "metrics": {"active_users": -1}}).encode(): (
            "metrics.active_users"
        ),
    }
    publish(queue, [*bad.keys(), good])
    consumer = consume(queue)

    assert UserSession.objects.filter(session_id="SESS-GOOD").exists()
    assert not UserSession.objects.filter(session_id="SESS-NUL").exists()
    assert consumer.totals.dead_lettered == len(bad)
    assert queue_depth(queue)[0] == 0
    letters = dead_letters(queue)
    assert len(letters) == len(bad)
    for headers, body in letters:
        assert bad[body] in headers[amqp.REASON_HEADER]
        assert headers["x-original-queue"] == queue


def test_sre_user_in_redis_matches_the_database_and_live_update_is_published(queue, sre_key):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("sessions", channel)
    publish(
        queue,
        [
            event("SESS-1", "login", T0, user_id="USR-1"),
            event("SESS-2", "login", T0, user_id="USR-2", region="APAC"),
            event("SESS-2", "idle", T0 + timedelta(minutes=6), user_id="USR-2", region="APAC"),
            event("SESS-3", "login", T0, user_id="USR-1"),  # a second session of USR-1
            event("SESS-4", "login", T0, user_id="USR-4"),
            event("SESS-4", "logout", T0 + timedelta(minutes=2), user_id="USR-4"),
            Outgoing(json.dumps(_sample_snapshot("MSG-2", T0, 120)).encode(), SNAPSHOT_TYPE),
        ],
    )
    consume(queue, live_interval_s=0.01)

    cached = json.loads(get_redis_connection("default").get(sre_key))
    fresh = selectors.session_summary()
    for summary in (cached, fresh):
        for user in summary["users"]:
            user.pop("online_seconds")
        summary.pop("generated_at")
    assert cached == fresh
    assert (cached["concurrent_users"], cached["active_users"], cached["active_sessions"]) == (2, 1, 2)
    assert cached["by_status"] == {"active": 2, "idle": 1, "disconnected": 1}
    assert cached["by_region"]["APAC"] == {"active": 0, "idle": 1, "disconnected": 0}
    assert cached["active_connections"] == 120
    assert sorted(u["session_id"] for u in cached["users"]) == ["SESS-1", "SESS-2", "SESS-3"]

    # The consumer may store the messages in several batches and publish after each;
    # it has waited for its sends before returning, so the newest update is the last one queued.
    updates = async_to_sync(_drain)(layer, channel)
    assert updates and {u["type"] for u in updates} == {"sessions.update"}
    assert updates[-1]["summary"]["by_status"] == {"active": 2, "idle": 1, "disconnected": 1}


async def _drain(layer, channel) -> list[dict]:
    """Every message waiting on ``channel``: the first may take a moment, the rest are already there."""
    received = [await asyncio.wait_for(layer.receive(channel), timeout=5)]
    while True:
        try:
            received.append(await asyncio.wait_for(layer.receive(channel), timeout=0.5))
        except TimeoutError:
            return received
