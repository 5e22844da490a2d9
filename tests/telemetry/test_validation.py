"""What devices send is stored; only what cannot be stored is refused, with a reason."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from telemetry.validation import InvalidMessage, validate_message
from tests.telemetry.conftest import reading_payload, recent, topic_for


def _raw(payload) -> bytes:
    return json.dumps(payload).encode()


def _validate(payload: dict, **kwargs):
    return validate_message(topic_for(payload, "og/field"), _raw(payload), **kwargs)


def test_the_seed_sample_is_valid():
    payload = reading_payload(timestamp_utc="2026-11-30T13:58:12Z")
    reading = _validate(payload, now=datetime(2026, 11, 30, 14, tzinfo=UTC))
    assert (reading.device_id, reading.device_type, reading.site_id, reading.state) == ("TURB-00912", "turbine", "WY-ALPHA", "OK")
    assert reading.timestamp.isoformat() == "2026-11-30T13:58:12+00:00"
    assert reading.document == _raw(payload)  # stored as received


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-11-30T13:58:12.974178Z", "2026-11-30T13:58:12.974178+00:00"),
        ("2026-11-30T13:58:12Z", "2026-11-30T13:58:12+00:00"),
        ("2026-11-30T13:58:12.9+00:00", "2026-11-30T13:58:12.900000+00:00"),
        ("2026-11-30T15:58:12+02:00", "2026-11-30T15:58:12+02:00"),
        ("2026-11-30T13:58:12", "2026-11-30T13:58:12+00:00"),  # naive: UTC
        ("2026-11-30 13:58:12.123456789Z", "2026-11-30T13:58:12.123456+00:00"),
        ("20261130T135812Z", "2026-11-30T13:58:12+00:00"),
    ],
)
def test_any_iso_8601_timestamp_is_accepted(stamp, expected):
    reading = _validate(reading_payload(timestamp_utc=stamp), now=datetime(2026, 11, 30, 14, tzinfo=UTC))
    assert reading.timestamp.isoformat() == expected


def test_variations_real_devices_send_are_stored():
    payload = reading_payload(
        device_id="TURB-00000",
        site_id="CA-DELTA",
        device_type="electrical_rotor",
        metrics={"rpm": 1480, "voltage_v": 415.2, "current_a": 301.0, "frequency_hz": 50.01, "power_factor": 0.93},
        status={"state": "critical", "code": "ER-HOT"},
    )
    reading = _validate(payload)
    assert reading.state == "CRITICAL"
    assert json.loads(reading.document)["status"] == {"state": "CRITICAL", "code": "ER-HOT"}


@pytest.mark.parametrize(
    ("status", "stored"),
    [
        ({"state": "BROKEN"}, {"state": "UNKNOWN", "reported_state": "BROKEN"}),
        ({"state": 3}, {"state": "UNKNOWN", "reported_state": "3"}),
        ({"code": "X"}, {"code": "X", "state": "UNKNOWN"}),
        ("warn", {"state": "WARN"}),
        (None, {"state": "UNKNOWN"}),
    ],
)
def test_an_unknown_state_is_stored_as_unknown(status, stored):
    payload = reading_payload(status=status)
    reading = _validate(payload)
    assert reading.state in ("UNKNOWN", "WARN")
    assert json.loads(reading.document)["status"] == stored


def test_a_new_device_type_and_unknown_metrics_are_stored():
    payload = reading_payload(device_type="solar_inverter", metrics={"dc_voltage_v": 600.5, "mppt_channels": 4})
    assert _validate(payload).device_type == "solar_inverter"


def test_wrongly_shaped_optional_parts_are_dropped_not_the_reading():
    payload = reading_payload(location={"lat": 123, "lon": 0}, tags=["a"], firmware=3.2)
    stored = json.loads(_validate(payload).document)
    assert (stored["location"], stored["tags"], stored["firmware"]) == (None, None, "3.2")


def test_a_byte_order_mark_is_dropped():
    payload = reading_payload()
    reading = validate_message(topic_for(payload, "og/field"), b"\xef\xbb\xbf" + _raw(payload))
    assert reading.document == _raw(payload)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda p: p.pop("metrics"), "'metrics' must be an object"),
        (lambda p: p.update(metrics=[1, 2]), "'metrics' must be an object"),
        (lambda p: p["metrics"].update(rpm="fast"), "metric 'rpm' must be a finite number, not str"),
        (lambda p: p["metrics"].update(rpm=True), "metric 'rpm' must be a finite number, not bool"),
        (lambda p: p["metrics"].update(rpm={"v": 1}), "metric 'rpm' must be a finite number, not dict"),
        (lambda p: p["metrics"].update(rpm=10**400), "metric 'rpm' must be a finite number"),
        (lambda p: p["metrics"].update({f"m{i}": i for i in range(300)}), "more than 256 metrics"),
        (lambda p: p["metrics"].update({"x" * 65: 1}), "must be 1-64 characters"),
        (lambda p: p.update(timestamp_utc="yesterday"), "not ISO 8601"),
        (lambda p: p.update(timestamp_utc=1764500000), "must be an ISO 8601 string"),
        (lambda p: p.update(timestamp_utc=recent(-7200)), "more than an hour in the future"),
        (lambda p: p.update(timestamp_utc="9999-12-31T23:59:59Z"), "more than an hour in the future"),
        (lambda p: p.update(timestamp_utc="0001-01-01T00:00:00+14:00"), "out of range|older than"),
        (lambda p: p.update(timestamp_utc=recent(31 * 86400)), "older than the 30-day retention"),
        (lambda p: p.pop("site_id"), "'site_id' must be a non-empty string"),
        (lambda p: p.update(device_id=12), "'device_id' must be a non-empty string"),
    ],
)
def test_what_cannot_be_stored_is_refused_with_its_reason(mutate, reason):
    payload = reading_payload()
    topic = topic_for(payload, "og/field")
    mutate(payload)
    with pytest.raises(InvalidMessage, match=reason):
        validate_message(topic, _raw(payload))


def test_a_number_past_float_range_is_stored_as_sent_or_refused_when_the_payload_is_re_encoded():
    raw = _raw(reading_payload()).replace(b'"tags": {', b'"tags": {"big": 1e999, ')
    assert b"1e999" in validate_message("og/field/WY-ALPHA/turbine/TURB-00912", raw).document
    lowercase = raw.replace(b'"state": "OK"', b'"state": "ok"')
    with pytest.raises(InvalidMessage, match="out of range"):
        validate_message("og/field/WY-ALPHA/turbine/TURB-00912", lowercase)
    with pytest.raises(InvalidMessage, match="'rpm' must be a finite number"):
        validate_message("og/field/WY-ALPHA/turbine/TURB-00912", raw.replace(b'"rpm": 3487', b'"rpm": 1e999'))


def test_a_long_id_is_refused():
    payload = reading_payload(device_id="D" * 65)
    with pytest.raises(InvalidMessage, match="longer than 64"):
        _validate(payload)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"device_id": ', "^json:"),
        (b"[" * 200_000 + b"]" * 200_000, "nested deeper"),
        (b'{"a":' * 40 + b"1" + b"}" * 40, "nested deeper"),
        (b'{"metrics": {"rpm": ' + b"9" * 6000 + b"}}", "^json:.*digits"),
        (b'{"a": NaN}', "NaN is not a number"),
        (b'{"a": -Infinity}', "Infinity is not a number"),
        (b'{"a": 1, "a": 2}', "duplicate key 'a'"),
        (b'{"a": "\xff\xfe"}', "not UTF-8"),
        (b'{"a": "x\\u0000y"}', "NUL"),
        (b'{"a": "\\ud800"}', "surrogate"),
        (b'{"a": "x\x00y"}', "^json:"),
        ("{}".encode("utf-16"), "not UTF-8"),
        (b"", "^json:"),
        (b"null", "must be a JSON object, not NoneType"),
        (b'"turbine"', "must be a JSON object, not str"),
    ],
)
def test_hostile_bytes_raise_only_the_validators_error(raw, reason):
    with pytest.raises(InvalidMessage, match=reason):
        validate_message("og/field/WY-ALPHA/turbine/TURB-1", raw)


def test_topic_and_payload_must_name_the_same_device():
    payload = reading_payload()
    with pytest.raises(InvalidMessage, match="disagree on site_id, device_id"):
        validate_message("og/field/TX-EAGLE/turbine/TURB-1", _raw(payload))


def test_topic_must_follow_the_pattern():
    with pytest.raises(InvalidMessage, match=r"^topic:"):
        validate_message("og/field/WY-ALPHA/turbine", _raw(reading_payload()))


def test_a_reading_just_inside_the_limits_is_accepted():
    now = datetime(2026, 11, 30, 14, tzinfo=UTC)
    for stamp in (now + timedelta(minutes=59), now - timedelta(days=29, hours=23)):
        payload = reading_payload(timestamp_utc=stamp.isoformat(), metrics={f"m{i}": i * 0.5 for i in range(256)})
        assert _validate(payload, now=now).timestamp == stamp
