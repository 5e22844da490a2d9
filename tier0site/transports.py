"""Transports for ``tier0site.workers.BatchWorker``: how messages come in and are acknowledged.

A transport connects, puts each message into the worker's inbox as a
``Delivery`` (body, acknowledgement token, redelivery flag), acknowledges a
batch once it is committed, and keeps its connection alive while the worker
waits. It knows nothing of what the messages mean, so a new input (telemetry
over AMQP from a quorum queue, say) is a transport plus an existing sink.
"""

import logging
import struct
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as paho
import pika
import pika.exceptions

from tier0site.workers import Delivery, Inbox, ShutdownFlag

logger = logging.getLogger(__name__)

# pika logs every connection step at INFO; the workers log what matters themselves.
logging.getLogger("pika").setLevel(logging.WARNING)

# An MQTT 3.1.1 PUBACK: fixed header (type 4), remaining length 2, the message id.
_PUBACK = struct.Struct("!BBH")


class MqttTransport:
    """MQTT 3.1.1 with a persistent session, QoS 1 and manual acknowledgements (paho-mqtt 2).

    paho's network thread fills the inbox; the broker holds what is not
    acknowledged in the session and resends it (with the dup flag) after a
    reconnect or a restart. paho reconnects by itself once connected, so only
    the first connection can fail here.
    """

    errors = (OSError,)

    def __init__(self, client: paho.Client, *, subscription: str, host: str, port: int, keepalive: int = 30) -> None:
        self.client, self.subscription = client, subscription
        self.host, self.port, self.keepalive = host, port, keepalive
        self.connected = threading.Event()
        self.deliver: Callable[[Delivery], None] | None = None
        self.started = False

    def connect(self, deliver: Callable[[Delivery], None]) -> None:
        self.deliver = deliver
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.connect(self.host, self.port, keepalive=self.keepalive)
        self.client.loop_start()
        self.started = True

    # paho's network thread ------------------------------------------------------
    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            logger.error("mqtt connect refused", extra={"reason": str(reason_code)})
            return
        client.subscribe(self.subscription, qos=1)
        self.connected.set()
        logger.info("mqtt connected", extra={"client_id": client._client_id.decode(), "subscription": self.subscription})

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        self.connected.clear()
        logger.warning("mqtt disconnected", extra={"reason": str(reason_code)})

    def _on_message(self, _client, _userdata, message) -> None:
        self.deliver(Delivery((message.mid, message.qos), message.payload, message.topic, bool(message.dup)))

    # the worker's thread --------------------------------------------------------
    def pump(self, inbox: Inbox, timeout_s: float) -> None:
        inbox.wait(timeout_s)

    def ack(self, batch: list[Delivery]) -> None:
        # One write for a batch's PUBACKs: paho's ack() queues a 4-byte packet, wakes its network
        # thread and makes a send() per message. The packets are the same bytes, in the same order.
        # paho-mqtt is pinned (requirements.txt): _packet_queue is its own queue of outgoing packets.
        mids = [delivery.token[0] for delivery in batch if delivery.token[1] == 1]
        if mids:
            self.client._packet_queue(paho.PUBACK, b"".join(_PUBACK.pack(paho.PUBACK, 2, mid) for mid in mids), 0, 0)

    def wait(self, seconds: float, shutdown: ShutdownFlag) -> None:
        shutdown.wait(seconds)

    def close(self) -> None:
        if self.started:
            self.started = False
            self.client.disconnect()
            self.client.loop_stop()


class AmqpTransport:
    """AMQP 0-9-1 (pika's blocking connection): at most ``prefetch`` unacknowledged deliveries.

    One batch is acknowledged with a single ``basic_ack(multiple=True)``: the
    inbox is first in, first out, so every earlier delivery tag is in this batch
    or an earlier one. Dead letters a sink republishes go out on a channel of
    their own with publisher confirms (``publish``), so a problem there never
    disturbs the consuming channel.

    ``parameters`` may list several nodes of a cluster: each connection tries
    them in turn, starting after the node of the previous connection, so a
    consumer whose node died moves to a live one (the worker's backoff between
    attempts). ``meta(method, properties)`` chooses what a delivery carries
    besides its body (default: the properties).
    """

    errors = (pika.exceptions.AMQPError,)

    def __init__(
        self,
        *,
        parameters: pika.ConnectionParameters | list[pika.ConnectionParameters],
        queue: str,
        prefetch: int,
        declare: Callable[[object, str], None] | None = None,
        meta: Callable[[object, object], object] | None = None,
    ) -> None:
        self.parameters = list(parameters) if isinstance(parameters, list | tuple) else [parameters]
        self.queue, self.prefetch, self.declare = queue, prefetch, declare
        self.meta = meta or (lambda _method, properties: properties)
        self.connection = self.channel = self.confirmed = None
        self.attempts = 0

    def connect(self, deliver: Callable[[Delivery], None]) -> None:
        first = self.attempts % len(self.parameters)
        self.attempts += 1
        self.connection = pika.BlockingConnection(self.parameters[first:] + self.parameters[:first])
        self.channel = self.connection.channel()
        if self.declare:
            self.declare(self.channel, self.queue)
        self.channel.basic_qos(prefetch_count=self.prefetch)

        meta = self.meta

        def on_message(_channel, method, properties, body) -> None:
            deliver(Delivery(method.delivery_tag, body, meta(method, properties), bool(method.redelivered)))

        self.channel.basic_consume(queue=self.queue, on_message_callback=on_message)
        params = self.connection._impl.params
        logger.info(
            "amqp consumer connected",
            extra={"queue": self.queue, "prefetch": self.prefetch, "broker": f"{params.host}:{params.port}"},
        )

    def pump(self, _inbox: Inbox, timeout_s: float) -> None:
        # Returns as soon as deliveries were dispatched, or after timeout_s.
        self.connection.process_data_events(time_limit=timeout_s)

    def ack(self, batch: list[Delivery]) -> None:
        if batch:
            self.channel.basic_ack(delivery_tag=batch[-1].token, multiple=True)

    def wait(self, seconds: float, shutdown: ShutdownFlag) -> None:
        # Serving the connection while waiting keeps its heartbeats going.
        deadline = time.monotonic() + seconds
        while not shutdown.is_set and (remaining := deadline - time.monotonic()) > 0:
            self.connection.process_data_events(time_limit=min(remaining, 0.25))

    def publish(self, *, exchange: str, routing_key: str, body: bytes, properties: pika.BasicProperties) -> None:
        """Publish and wait for the broker's confirm (raises if it is refused)."""
        if self.confirmed is None:
            self.confirmed = self.connection.channel()
            self.confirmed.confirm_delivery()
        self.confirmed.basic_publish(exchange=exchange, routing_key=routing_key, body=body, properties=properties)

    def close(self) -> None:
        if self.connection is not None and self.connection.is_open:
            try:
                self.connection.close()
            except pika.exceptions.AMQPError:
                logger.warning("amqp connection did not close cleanly")
        self.connection = self.channel = self.confirmed = None
