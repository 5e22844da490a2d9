"""A message is stored only when its payload is sound and agrees with its topic."""

import json

import pytest

from telemetry.validation import InvalidMessage, validate_message
from tests.telemetry.conftest import reading_payload, topic_for


def _raw(payload) -> bytes:
    return json.dumps(payload).encode()


def test_the_seed_sample_is_valid():
    payload = reading_payload()
    reading = validate_message(topic_for(payload, "og/field"), _raw(payload))
    assert (reading.device_id, reading.device_type, reading.site_id, reading.state) == ("TURB-00912", "turbine", "WY-ALPHA", "OK")
    assert reading.timestamp.isoformat() == "2025-11-15T23:10:05+00:00"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda p: p.pop("metrics"), "'metrics' must be an object"),
        (lambda p: p["metrics"].pop("rpm"), "metrics missing ['rpm']"),
        (lambda p: p["metrics"].update(rpm="fast"), "metric 'rpm' must be a finite number"),
        (lambda p: p["status"].update(state="BROKEN"), "'status.state' must be one of OK|WARN|ALERT"),
        (lambda p: p.update(timestamp_utc="yesterday"), "not ISO-8601"),
        (lambda p: p.update(timestamp_utc="2025-11-15T23:10:05"), "no time zone"),
        (lambda p: p.update(device_type="toaster"), "unknown device_type"),
        (lambda p: p.update(location={"lat": 123, "lon": 0}), "outside the globe"),
    ],
)
def test_wrong_schema_is_refused_with_its_reason(mutate, reason):
    payload = reading_payload()
    topic = topic_for(payload, "og/field")
    mutate(payload)
    with pytest.raises(InvalidMessage, match=reason.replace("[", r"\[").replace("]", r"\]").replace("|", r"\|")):
        validate_message(topic, _raw(payload))


def test_malformed_json_is_refused():
    with pytest.raises(InvalidMessage, match="^json:"):
        validate_message("og/field/WY-ALPHA/turbine/TURB-00912", b'{"device_id": ')


def test_topic_and_payload_must_name_the_same_device():
    payload = reading_payload()
    with pytest.raises(InvalidMessage, match="disagree on site_id, device_id"):
        validate_message("og/field/TX-EAGLE/turbine/TURB-1", _raw(payload))


def test_topic_must_follow_the_pattern():
    with pytest.raises(InvalidMessage, match="^topic:"):
        validate_message("og/field/WY-ALPHA/turbine", _raw(reading_payload()))
