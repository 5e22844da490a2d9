"""A stream shaped like the seed system's device simulator is stored whole by the real consumer."""

import pytest

from telemetry.models import DeadLetter, DeviceState, TelemetryReading
from tests.support.mqtt import publish
from tests.support.waiting import wait_until
from tests.telemetry.streams import PROBE_DEVICE, seed_like_stream, wait_consumer_storing

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_every_message_of_a_seed_like_stream_is_stored_with_no_dead_letters(consumer_process, topic_prefix):
    consumer = consumer_process()
    wait_consumer_storing(topic_prefix)
    readings = TelemetryReading.objects.exclude(device_id=PROBE_DEVICE)
    messages = seed_like_stream(3000, topic_prefix, seed=5)

    publish(messages)

    wait_until(lambda: readings.count() + DeadLetter.objects.count() >= len(messages), 60)
    assert list(DeadLetter.objects.values_list("reason", flat=True)[:3]) == []
    assert readings.count() == len(messages)
    states = set(DeviceState.objects.values_list("state", flat=True))
    assert "CRITICAL" in states and states <= {"OK", "WARN", "ALERT", "CRITICAL"}
    assert DeviceState.objects.filter(site_id="CA-DELTA").exists()
    assert consumer.process.poll() is None
