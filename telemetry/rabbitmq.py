"""The clustered telemetry transport (``TELEMETRY_TRANSPORT=rabbitmq``): MQTT in, a quorum queue, AMQP out.

    device --MQTT 3.1.1 QoS 1--> any node's rabbitmq_mqtt --amq.topic, og.field.{site}.{type}.{id}-->
        quorum queue TELEMETRY_QUEUE (bound to og.field.#) --AMQP, competing consumers--> telemetry sink

Devices keep speaking MQTT; the plugin turns the topic ``og/field/S/T/D`` into
the routing key ``og.field.S.T.D`` (``/`` becomes ``.``) and publishes it to
``amq.topic``. One durable quorum queue bound to ``og.field.#`` holds the
stream, replicated by Raft on every node of the cluster (at declaration time);
``run_mqtt_consumer --transport rabbitmq`` processes consume it over AMQP with
a prefetch window, store a batch and acknowledge it after the commit (the
shared ``BatchWorker`` and ``AmqpTransport``). The topic is recovered from the
routing key, so the telemetry sink, its validation and its dead letters
(``DeadLetter`` rows, as with Mosquitto) are the same code.

What a device's PUBACK means (read in rabbitmq_mqtt 3.10.8,
``rabbit_mqtt_processor:amqp_pub/2`` and ``amqp_callback/2``): a QoS 1
PUBLISH goes out on an internal channel in publisher-confirm mode
(``confirm.select``), and the PUBACK is sent only when that channel receives
the broker's ``basic.ack`` for it. A quorum queue (``rabbit_fifo_client``)
confirms an enqueue once Raft has *applied* the command, i.e. once it is
committed: appended to the write-ahead log of a majority of the queue's
members (2 of 3) and fdatasync'ed there (ra 2.2.0, the version 3.10.8 ships,
defaults ``wal_sync_method`` to ``datasync``). So, with the queue and its
binding in place, **a PUBACK means the message is on the disk of a majority
of nodes**: any one node may be SIGKILLed (or lose its power) without losing
an acknowledged message; two at once stop the queue (no majority: no PUBACK,
devices resend) rather than lose it. Nothing to configure for it; caveats:

- A message that no queue takes (queue not yet declared, or a topic outside
  the binding) is confirmed at once and dropped: declare the queue
  (``topology_ensure``, done by every consumer on connect) before devices
  publish. The queue's replicas are the cluster's nodes *when it is
  declared*: declare it once all nodes have joined.
- A ``basic.nack`` (the queue refusing) is not handled by the 3.10 plugin: the
  device's connection is closed without a PUBACK, so the device resends.
- Without a PUBACK nothing is promised: a device must keep and resend
  unacknowledged messages (paho does, with the dup flag, after reconnecting to
  another node); resends after a lost PUBACK arrive twice and the natural key
  (device, timestamp) drops the copy.

A consumer acknowledges after its commit, so a consumer or node dying
mid-batch redelivers (never loses) what it held; its redelivered copies are
duplicates the natural key removes.
"""

import logging
from urllib.parse import urlsplit, urlunsplit

import pika
from django.conf import settings

from sessions_app import amqp as amqp_params
from tier0site.transports import AmqpTransport

logger = logging.getLogger(__name__)

EXCHANGE = "amq.topic"  # the plugin's default exchange (mqtt.exchange)


def routing_key(topic: str) -> str:
    """The plugin's translation of an MQTT topic (rabbit_mqtt_util:to_amqp): ``/`` to ``.``, ``+`` to ``*``."""
    return topic.replace("/", ".").replace("+", "*")


def topic_of(key: str) -> str:
    """The MQTT topic back from a routing key (rabbit_mqtt_util:to_mqtt); a ``.`` inside a level is not recoverable."""
    return key.replace("*", "+").replace(".", "/")


def binding_key(prefix: str | None = None) -> str:
    return routing_key(prefix or settings.MQTT_TOPIC_PREFIX) + ".#"


def topology_declare(channel, queue: str) -> None:
    """The durable quorum queue bound to the telemetry topics (idempotent; same arguments everywhere)."""
    channel.queue_declare(queue=queue, durable=True, arguments={"x-queue-type": "quorum"})
    channel.queue_bind(queue=queue, exchange=EXCHANGE, routing_key=binding_key())


def broker_urls(brokers: list[str] | None = None) -> list[str]:
    """AMQP URLs of the cluster's nodes: full URLs as given, ``host:port`` with RABBITMQ_URL's credentials and vhost."""
    entries = [b.strip() for b in (brokers or settings.TELEMETRY_BROKER_URLS or [settings.RABBITMQ_URL]) if b.strip()]
    base = urlsplit(settings.RABBITMQ_URL)
    credentials = base.netloc.rpartition("@")[0]
    urls = []
    for entry in entries:
        if "://" in entry:
            urls.append(entry)
        else:
            netloc = f"{credentials}@{entry}" if credentials else entry
            urls.append(urlunsplit((base.scheme or "amqp", netloc, base.path or "/%2F", base.query, "")))
    return urls


def topology_ensure(*, queue: str | None = None, brokers: list[str] | None = None) -> None:
    """Declare the queue and binding through the first node that answers."""
    connection = pika.BlockingConnection([amqp_params.connection_parameters(url) for url in broker_urls(brokers)])
    try:
        topology_declare(connection.channel(), queue or settings.TELEMETRY_QUEUE)
    finally:
        connection.close()


def _topic_meta(method, _properties) -> str:
    return topic_of(method.routing_key)


def amqp_transport(*, queue: str | None = None, brokers: list[str] | None = None, prefetch: int | None = None) -> AmqpTransport:
    """Competing consumers of the telemetry queue; a delivery's meta is its MQTT topic, as the sink expects."""
    return AmqpTransport(
        parameters=[amqp_params.connection_parameters(url) for url in broker_urls(brokers)],
        queue=queue or settings.TELEMETRY_QUEUE,
        prefetch=prefetch or settings.TELEMETRY_PREFETCH,
        declare=topology_declare,
        meta=_topic_meta,
    )
