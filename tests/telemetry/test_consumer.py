"""The MQTT consumer stores what devices publish: without loss, without duplicates.

These tests run the real path: the project's Mosquitto, the simulator's
publisher, the consumer (in a thread, or as the real command in a process that
is killed), and PostgreSQL.
"""

import asyncio
import json
import re
import threading
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers, get_channel_layer

from devtools.device_publisher import fleet_publish
from devtools.device_simulator import Fleet
from telemetry.models import DeadLetter, DeviceState, TelemetryReading
from tests.support.waiting import wait_until
from tests.telemetry.conftest import reading_payload, recent, topic_for
from tier0site.workers import worker_heartbeats

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def redis_channel_layer(settings):
    """The production channel layer (Redis), under a prefix of this test's own.

    The in-memory layer cannot carry a message between the worker's thread and
    the test's, each with its own event loop; Redis carries it as in production.
    """
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [settings.REDIS_URL], "prefix": f"test{uuid.uuid4().hex[:8]}"},
        }
    }
    channel_layers.backends.clear()
    yield get_channel_layer()
    channel_layers.backends.clear()


def test_the_consumer_stores_every_reading_the_simulator_publishes_and_tells_the_dashboard(
    worker_thread, fleet, redis_channel_layer
):
    layer = redis_channel_layer
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("telemetry", channel)
    worker = worker_thread()

    report = fleet_publish(fleet, count=2000)

    wait_until(lambda: TelemetryReading.objects.count() == report.published)
    assert DeviceState.objects.count() == len({d.device_id for d in fleet.devices if d.last_ms})
    event = async_to_sync(asyncio.wait_for)(layer.receive(channel), 10)
    assert event["type"] == "telemetry.update"
    assert event["stored"] > 0 and event["groups"]
    worker.shutdown.set()


def test_malformed_wrong_schema_and_mismatched_messages_land_in_dead_letters(worker_thread, topic_prefix):
    from telemetry import mqtt

    worker_thread()
    good = reading_payload()
    wrong_schema = reading_payload(metrics={"rpm": "fast"})
    client = mqtt.make_client(f"pub-{uuid.uuid4().hex[:6]}")
    mqtt.connect(client)
    client.loop_start()
    for topic, body in [
        (topic_for(good), json.dumps(good)),
        (topic_for(good), "{not json"),
        (topic_for(wrong_schema), json.dumps(wrong_schema)),
        (f"{topic_prefix}/TX-EAGLE/turbine/TURB-00912", json.dumps(good | {"timestamp_utc": recent(5)})),
    ]:
        client.publish(topic, body, qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()

    wait_until(lambda: DeadLetter.objects.count() == 3)
    reasons = sorted(r.split(":")[0] for r in DeadLetter.objects.values_list("reason", flat=True))
    assert reasons == ["json", "mismatch", "schema"]
    assert TelemetryReading.objects.count() == 1


def test_a_killed_consumer_loses_nothing_and_duplicates_nothing_after_restart(consumer_process):
    fleet = Fleet(devices=5000, seed=11)
    consumer = consumer_process("test-kill-restart")  # its session exists: the broker queues for it
    total = 20_000
    publisher = threading.Thread(target=fleet_publish, kwargs={"fleet": fleet, "count": total, "rate": 8000})
    publisher.start()
    wait_until(lambda: TelemetryReading.objects.count() > 2000, 30, 0.02)
    consumer.kill()  # SIGKILL mid-stream: its last batch is uncommitted or unacknowledged
    stored_at_kill = TelemetryReading.objects.count()
    publisher.join(60)

    consumer = consumer_process("test-kill-restart")  # same persistent session
    wait_until(lambda: TelemetryReading.objects.count() >= total, 60)
    assert consumer.stop() == 0  # a graceful stop stores everything it received, redeliveries included
    assert stored_at_kill < total
    assert TelemetryReading.objects.count() == total
    # The broker kept for the dead consumer's session everything it had not acknowledged.
    received_after_restart = int(re.findall(r"stopped: received (\d+)", consumer.output())[-1])
    assert received_after_restart >= total - stored_at_kill


def test_sigterm_finishes_the_batch_in_hand_and_exits_cleanly(consumer_process, fleet):
    consumer = consumer_process(None, "--batch-size", "100000", "--flush-interval", "30")
    # 500, not thousands: a consumer that acknowledges nothing yet is handed its queued messages ever slower
    # (measured on a slow machine: about 150/s at first, 65/s with 2,000 held), so 3,000 took over 40 s to arrive
    # and the 30 s flush interval could fire first (the test then failed now and then).
    fleet_publish(fleet, count=500)
    # Received and held in the inbox (30 s flush interval), as its heartbeat says.
    wait_until(lambda: any(b["worker"] == "mqtt_consumer" and b["backlog"] == 500 for b in worker_heartbeats()))
    assert TelemetryReading.objects.count() == 0
    assert consumer.stop() == 0
    assert TelemetryReading.objects.count() == 500
    assert "stored 500" in consumer.output()
