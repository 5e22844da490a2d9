"""The rabbitmq telemetry transport on one node (the machine's RabbitMQ): quorum queue in, same sink out.

Messages are published to ``amq.topic`` with the routing keys the MQTT plugin
makes of device topics (``og.field.{site}.{type}.{id}``), so this checks the
consumer side fast; ``test_rabbitmq_cluster`` runs the whole path (MQTT
devices, a 3-node cluster, node kills).
"""

import json
import uuid

import pika
import pytest

from devtools.device_simulator import Fleet
from sessions_app import amqp as amqp_params
from telemetry import rabbitmq
from telemetry.consumer import mqtt_ingest_worker
from telemetry.models import DeadLetter, TelemetryReading
from tests.support.waiting import wait_until
from tests.telemetry.conftest import WorkerThreads, reading_payload, topic_for

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def telemetry_queue(settings, topic_prefix):
    """A quorum queue of this test's own, bound to this test's topic namespace; deleted afterwards."""
    settings.TELEMETRY_QUEUE = f"test-telemetry-{uuid.uuid4().hex[:8]}"
    settings.TELEMETRY_BROKER_URLS = [settings.RABBITMQ_URL]
    rabbitmq.topology_ensure()
    yield settings.TELEMETRY_QUEUE
    connection = pika.BlockingConnection(amqp_params.connection_parameters())
    try:
        connection.channel().queue_delete(queue=settings.TELEMETRY_QUEUE)
    finally:
        connection.close()


@pytest.fixture
def amqp_worker(telemetry_queue):
    threads = WorkerThreads()
    yield lambda **kwargs: threads.start(mqtt_ingest_worker(transport="rabbitmq", **kwargs))
    threads.stop_all()


def publish_as_plugin(messages: list[tuple[str, bytes]]) -> None:
    """What rabbitmq_mqtt does with a device's PUBLISH: amq.topic, the topic as routing key, confirmed."""
    connection = pika.BlockingConnection(amqp_params.connection_parameters())
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for topic, body in messages:
            channel.basic_publish(exchange=rabbitmq.EXCHANGE, routing_key=rabbitmq.routing_key(topic), body=body, mandatory=True)
    finally:
        connection.close()


def test_topics_survive_the_plugins_translation():
    topic = "og/field/TX-EAGLE/turbine/TURB-00912"
    assert rabbitmq.routing_key(topic) == "og.field.TX-EAGLE.turbine.TURB-00912"
    assert rabbitmq.topic_of(rabbitmq.routing_key(topic)) == topic
    assert rabbitmq.binding_key("og/field") == "og.field.#"


def test_broker_addresses_take_urls_or_host_port(settings):
    settings.RABBITMQ_URL = "amqp://u:p@db.example:5672/%2F"
    assert rabbitmq.broker_urls(["10.0.0.1:5673", "amqp://a:b@h:1/v"]) == ["amqp://u:p@10.0.0.1:5673/%2F", "amqp://a:b@h:1/v"]


def test_the_queue_is_a_durable_quorum_queue(telemetry_queue):
    connection = pika.BlockingConnection(amqp_params.connection_parameters())
    try:
        channel = connection.channel()
        # Declaring with other arguments fails (PRECONDITION_FAILED) if the queue is not exactly this.
        rabbitmq.topology_declare(channel, telemetry_queue)
        with pytest.raises(pika.exceptions.ChannelClosedByBroker):
            channel.queue_declare(queue=telemetry_queue, durable=True, arguments={"x-queue-type": "classic"})
    finally:
        connection.close()


def test_readings_from_the_queue_are_stored_and_unusable_ones_dead_lettered(amqp_worker, topic_prefix):
    fleet = Fleet(devices=300, seed=3)
    readings = [
        (f"{topic_prefix}/{device.site_id}/{device.kind.name}/{device.device_id}", payload)
        for device, payload in _take(fleet.messages(), 600)
    ]
    good = reading_payload()
    bad = [
        (topic_for(good), b"{not json"),
        (f"{topic_prefix}/TX-EAGLE/turbine/TURB-00912", json.dumps(good).encode()),  # topic and payload disagree
    ]
    worker = amqp_worker()
    publish_as_plugin(readings + bad)

    wait_until(lambda: TelemetryReading.objects.count() == len(readings) and DeadLetter.objects.count() == 2, 60)
    letters = {d.reason.split(":")[0]: d for d in DeadLetter.objects.all()}
    assert set(letters) == {"json", "mismatch"}, letters
    assert letters["json"].topic == topic_for(good)  # the topic recovered from the routing key, as with Mosquitto
    assert letters["json"].source == "mqtt"
    wait_until(lambda: worker.totals.received == len(readings) + 2, 10)  # acknowledged after the commit


def test_competing_consumers_split_the_queue_and_redeliveries_are_not_stored_twice(amqp_worker, topic_prefix):
    fleet = Fleet(devices=500, seed=4)
    readings = [
        (f"{topic_prefix}/{device.site_id}/{device.kind.name}/{device.device_id}", payload)
        for device, payload in _take(fleet.messages(), 2000)
    ]
    first, second = amqp_worker(batch_size=50, prefetch=100), amqp_worker(batch_size=50, prefetch=100)
    wait_until(lambda: all(w.transport.channel and w.transport.channel.consumer_tags for w in (first, second)), 30)
    publish_as_plugin(readings + readings[:100])  # a device resending after a lost PUBACK

    wait_until(lambda: first.totals.received + second.totals.received == len(readings) + 100, 60)
    assert TelemetryReading.objects.count() == len(readings)
    assert first.totals.duplicates + second.totals.duplicates == 100
    assert first.totals.received and second.totals.received  # both took a share


def _take(iterator, n):
    return [next(iterator) for _ in range(n)]
