"""Fuzz suite: hostile messages through the real Mosquitto into a running run_mqtt_consumer.

Every kind in ``tests/telemetry/hostile.py`` is published between valid
readings. The consumer must stay up, store every valid reading, and
dead-letter every hostile message with a reason, except the oversized one,
which the broker acknowledges and drops (its $SYS counters show it received a
message that no consumer did).
"""

import pytest

from telemetry.broker_stats import broker_counters
from telemetry.models import DeadLetter, TelemetryReading
from tests.support.fuzz import record_fuzz_outcome
from tests.support.mqtt import publish
from tests.support.waiting import wait_until
from tests.telemetry.hostile import hostile_messages
from tests.telemetry.streams import PROBE_DEVICE, seed_like_stream, wait_consumer_storing

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

VALID_BETWEEN = 3


def test_hostile_messages_are_dead_lettered_and_valid_ones_all_stored(consumer_process, topic_prefix):
    consumer = consumer_process()
    wait_consumer_storing(topic_prefix)
    hostile = hostile_messages(topic_prefix)
    assert len({h.kind for h in hostile}) >= 25
    valid = seed_like_stream(VALID_BETWEEN * (len(hostile) + 1), topic_prefix, seed=9)
    sequence = []
    for index, message in enumerate(hostile):
        sequence += valid[index * VALID_BETWEEN : (index + 1) * VALID_BETWEEN]
        sequence.append((message.topic, message.payload))
    sequence += valid[len(hostile) * VALID_BETWEEN :]
    # Counters refreshed after the probes: what they count next is this test's.
    probed = broker_counters()
    before = wait_until(
        lambda: (c := broker_counters())["uptime_s"] > probed["uptime_s"] and c["publish_received"] is not None and c, 20, 0.5
    )

    infos = publish(sequence)

    # The broker acknowledged every message, the oversized ones included.
    assert all(info.is_published() for info in infos)
    delivered = len(sequence) - sum(h.broker_drops for h in hostile)
    readings = TelemetryReading.objects.exclude(device_id=PROBE_DEVICE)
    wait_until(lambda: readings.count() + DeadLetter.objects.count() >= delivered, 60, 0.2, "not all delivered")
    assert consumer.process.poll() is None, consumer.output()[-2000:]
    assert readings.count() == len(valid)
    letters = {letter.topic: letter.reason for letter in DeadLetter.objects.all()}
    outcome = {}
    for message in hostile:
        if message.broker_drops:
            assert message.topic[:512] not in letters
            outcome[message.kind] = f"dropped by the broker ({len(message.payload)} bytes)"
        else:
            reason = letters.get(message.topic[:512], "")
            assert message.expect in reason and reason, f"{message.kind}: {reason or 'not dead-lettered'}"
            outcome[message.kind] = reason[:100]
    assert len(letters) == sum(not h.broker_drops for h in hostile)

    # The broker's own count: it received every publish, consumers got all but the dropped ones.
    def broker_received() -> int | None:
        now = broker_counters()["publish_received"]
        received = None if now is None else now - before["publish_received"]
        return received if received is not None and received >= len(sequence) else None

    broker_dropped = wait_until(broker_received, 20, 0.5, "the broker's $SYS counters did not catch up") - delivered
    assert broker_dropped == sum(h.broker_drops for h in hostile)
    assert consumer.stop() == 0
    record_fuzz_outcome("mqtt", valid_stored=len(valid), broker_dropped=broker_dropped, outcome=outcome)
