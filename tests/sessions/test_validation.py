"""User-activity messages: real variations accepted, what cannot be stored refused, nothing else raised."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from sessions_app.validation import InvalidMessage, SessionEvent, Snapshot, message_parse

NOW = datetime(2026, 11, 30, 14, tzinfo=UTC)


def _event(**overrides) -> bytes:
    body = {
        "user_id": "USR-1",
        "session_id": "SESS-1",
        "event": "login",
        "connection_status": "active",
        "region": "US-WEST",
        "ip_address": "192.168.1.104",
        "timestamp": "2026-11-30T13:58:12.974178Z",
    }
    body.update(overrides)
    return json.dumps(body).encode()


def _parse(body: bytes, message_type=None):
    return message_parse(body, message_type=message_type, now=NOW)


@pytest.mark.parametrize(
    ("overrides", "check"),
    [
        ({"event": "LOGIN", "connection_status": "Active"}, lambda e: e.event == "login"),
        ({"timestamp": "2026-11-30T13:58:12"}, lambda e: e.timestamp.tzinfo is not None),
        ({"timestamp": "2026-11-30T15:58:12+02:00"}, lambda e: e.timestamp == datetime(2026, 11, 30, 13, 58, 12, tzinfo=UTC)),
        ({"ip_address": "not-an-ip"}, lambda e: e.ip_address is None),
        ({"ip_address": "2001:DB8::1"}, lambda e: e.ip_address == "2001:db8::1"),
        ({"user_id": 12345}, lambda e: e.user_id == "12345"),
        ({"connection_status": None}, lambda e: e.connection_status == "active"),
    ],
)
def test_real_variations_of_events_are_accepted(overrides, check):
    parsed = _parse(_event(**overrides))
    assert isinstance(parsed, SessionEvent) and check(parsed)


def test_a_snapshot_with_integral_float_counts_is_accepted():
    body = {
        "message_id": "M-1",
        "site_id": "S-1",
        "timestamp_utc": "2026-11-30T13:00:00Z",
        "metrics": {"active_users": 12.0, "active_connections": 3},
    }
    parsed = _parse(json.dumps(body).encode())
    assert isinstance(parsed, Snapshot) and parsed.active_users == 12


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "malformed JSON"),
        (b"null", "must be a JSON object"),
        (b'"login"', "must be a JSON object"),
        (b"[" * 200_000 + b"]" * 200_000, "nested deeper"),
        (_event(session_id=None), "missing session_id"),
        (_event(event="teleport"), "event must be one of"),
        (_event(event=["login"]), "event must be one of"),
        (_event(connection_status="idle"), "contradicts event"),
        (_event(timestamp="9999-12-31T23:59:59Z"), "more than an hour in the future"),
        (_event(timestamp="2026-13-45T00:00:00Z"), "not an ISO 8601 time"),
        (_event(user_id="x" * 51), "longer than 50"),
        (_event(username="a\u0000b"), "NUL"),
        (b'{"event": "login", "event": "idle"}', "duplicate key"),
        (b'{"event": NaN}', "NaN"),
        (b'{"a": "\xc3\x28"}', "not UTF-8"),
        (b'{"metrics": {"active_users": ' + b"7" * 5000 + b'}, "message_id": "m"}', "malformed JSON"),
        (
            json.dumps(
                {
                    "message_id": "M",
                    "site_id": "S",
                    "timestamp_utc": "2026-11-30T13:00:00Z",
                    "metrics": {"active_users": 10**30, "active_connections": 1},
                }
            ).encode(),
            "active_users",
        ),
        (
            json.dumps(
                {
                    "message_id": "M",
                    "site_id": "S",
                    "timestamp_utc": "2026-11-30T13:00:00Z",
                    "metrics": {"active_users": 1, "active_connections": 1, "server_cpu_pct": 10**400},
                }
            ).encode(),
            "server_cpu_pct",
        ),
    ],
)
def test_what_cannot_be_stored_is_refused_with_a_reason(body, reason):
    with pytest.raises(InvalidMessage, match=reason):
        _parse(body)


def test_times_are_compared_with_the_consumers_clock():
    ahead = (NOW + timedelta(minutes=59)).isoformat()
    assert _parse(_event(timestamp=ahead)).timestamp == NOW + timedelta(minutes=59)
