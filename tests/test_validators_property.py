"""Property tests: whatever JSON or bytes arrive, both validators raise only their own error."""

import json
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessions_app.amqp import EVENT_TYPE, SNAPSHOT_TYPE
from sessions_app.validation import InvalidMessage as SessionInvalid
from sessions_app.validation import message_parse
from telemetry.validation import InvalidMessage as TelemetryInvalid
from telemetry.validation import validate_message

NOW = datetime(2026, 11, 30, 14, tzinfo=UTC)
TOPIC = "og/field/WY-ALPHA/turbine/TURB-1"
PROPERTY = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20
)
# Objects that look like the real messages, with any value in any field.
telemetry_like = st.fixed_dictionaries(
    {},
    optional={
        "device_id": st.sampled_from(["TURB-1"]) | json_values,
        "device_type": st.sampled_from(["turbine"]) | json_values,
        "site_id": st.sampled_from(["WY-ALPHA"]) | json_values,
        "timestamp_utc": st.sampled_from(["2026-11-30T13:58:12.974178Z", "2026-11-30T13:58:12"]) | json_values,
        "metrics": st.dictionaries(st.text(max_size=70), json_values, max_size=5) | json_values,
        "status": st.fixed_dictionaries({}, optional={"state": json_values, "code": json_values}) | json_values,
        "location": json_values,
        "tags": json_values,
        "firmware": json_values,
    },
)
session_like = st.fixed_dictionaries(
    {},
    optional={
        "user_id": json_values,
        "session_id": json_values,
        "event": st.sampled_from(["login", "LOGOUT", "idle"]) | json_values,
        "connection_status": json_values,
        "region": json_values,
        "ip_address": json_values,
        "timestamp": st.sampled_from(["2026-11-30T13:00:00Z"]) | json_values,
        "message_id": json_values,
        "timestamp_utc": json_values,
        "metrics": st.dictionaries(st.sampled_from(["active_users", "active_connections", "server_cpu_pct"]), json_values)
        | json_values,
        "active_users_list": json_values,
    },
)


def _dump(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def _telemetry(raw: bytes) -> None:
    try:
        validate_message(TOPIC, raw, now=NOW)
    except TelemetryInvalid as exc:
        # A named reason, not the last-resort wrapper around an unexpected exception.
        assert str(exc) and not str(exc).startswith("invalid:"), str(exc)


def _session(raw: bytes, message_type: str | None = None) -> None:
    try:
        message_parse(raw, message_type=message_type, now=NOW)
    except SessionInvalid as exc:
        assert str(exc) and not str(exc).startswith("invalid:"), str(exc)


@PROPERTY
@given(st.binary(max_size=300))
def test_telemetry_random_bytes(raw):
    _telemetry(raw)


@PROPERTY
@given(json_values | telemetry_like)
def test_telemetry_random_json(value):
    _telemetry(_dump(value))


@PROPERTY
@given(telemetry_like, st.integers(min_value=0, max_value=60))
def test_telemetry_truncated_json(value, cut):
    raw = _dump(value)
    _telemetry(raw[: max(0, len(raw) - cut)])


@PROPERTY
@given(st.binary(max_size=300), st.sampled_from([None, EVENT_TYPE, SNAPSHOT_TYPE]))
def test_sessions_random_bytes(raw, message_type):
    _session(raw, message_type)


@PROPERTY
@given(json_values | session_like, st.sampled_from([None, EVENT_TYPE, SNAPSHOT_TYPE]))
def test_sessions_random_json(value, message_type):
    _session(_dump(value), message_type)
