"""Alarm fixtures: rules of the test's own (the default ones removed), readings at chosen device times."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from alarms.engine import RULES
from alarms.live import EVENTS
from alarms.models import AlarmRule
from tests.telemetry.conftest import reading_payload, topic_for

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
def rules(db):
    """Make rules (the defaults removed first) and have the engine see them at once."""
    AlarmRule.objects.all().delete()

    def make(**fields) -> AlarmRule:
        defaults = {"name": f"rule {AlarmRule.objects.count() + 1}", "device_type": "turbine", "severity": "major"}
        rule = AlarmRule.objects.create(**{**defaults, **fields})
        RULES.reload()
        return rule

    yield make
    RULES.loaded_at = float("-inf")


def exhaust_rule(make, **fields) -> AlarmRule:
    """exhaust_temp_c > 560, clearing below 550, held 10 s."""
    return make(
        **{
            "kind": "metric",
            "metric": "exhaust_temp_c",
            "operator": "gt",
            "high": 560.0,
            "hysteresis": 10.0,
            "for_s": 10.0,
            **fields,
        }
    )


def turbine_message(
    seconds: float,
    exhaust: float,
    *,
    device_id: str = "TURB-1",
    site_id: str = "WY-ALPHA",
    state: str = "OK",
    prefix: str | None = None,
) -> tuple[str, bytes]:
    """A turbine reading ``seconds`` after T0 (device time) with the given exhaust temperature."""
    payload = reading_payload(device_id=device_id, site_id=site_id)
    payload["timestamp_utc"] = (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")
    payload["metrics"]["exhaust_temp_c"] = exhaust
    payload["status"]["state"] = state
    return topic_for(payload, prefix), json.dumps(payload).encode()


@pytest.fixture(autouse=True)
def _no_alarm_event_outlives_its_test():
    """An alarm event held back by the one-a-second coalescing is sent by a timer: cancel it at the end,
    or it reaches the next test's dashboard channel and counts as that test's event."""
    yield
    with EVENTS.lock:
        if EVENTS.timer is not None:
            EVENTS.timer.cancel()
        EVENTS.publisher = None
