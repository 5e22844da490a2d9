"""Publish a simulated fleet's readings to MQTT at a steady rate, with progress.

Given several brokers (the nodes of a RabbitMQ cluster with the MQTT plugin),
the publisher moves to the next one when its broker dies; paho keeps every
QoS 1 message not yet acknowledged and resends it (dup flag) on the new
connection, so nothing acknowledged-or-pending is dropped by a failover.
"""

import itertools
import logging
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as paho
from django.conf import settings

from devtools.device_simulator import Fleet
from telemetry import mqtt

logger = logging.getLogger(__name__)


MAX_UNCONFIRMED = 20_000


@dataclass
class PublishReport:
    published: int
    seconds: float
    failovers: int = 0

    @property
    def rate(self) -> float:
        return self.published / self.seconds if self.seconds else 0.0


class _Confirms:
    """Counts broker acknowledgements (PUBACK) of QoS 1 publishes; ``on_ack(payload)`` names each one."""

    def __init__(self, on_ack=None) -> None:
        self.count = 0
        self.on_ack = on_ack
        self.pending: dict[int, bytes] = {}  # mid -> payload, only with on_ack

    def on_publish(self, _client, _userdata, mid, _reason_code, _properties) -> None:
        self.count += 1
        if self.on_ack is not None and (payload := self.pending.pop(mid, None)) is not None:
            self.on_ack(payload)


class _Link:
    """The publisher's connection: the first broker that answers; the next one when it drops."""

    def __init__(self, client, brokers: list[tuple[str, int]], *, timeout_s: float = 120.0) -> None:
        self.client, self.brokers, self.timeout_s = client, brokers, timeout_s
        self.index = 0
        self.failovers = 0

    def connect(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while True:
            host, port = self.brokers[self.index % len(self.brokers)]
            try:
                self.client.connect(host, port, keepalive=30)
                logger.info("publisher connected to %s:%s", host, port)
                return
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise
                logger.warning("broker %s:%s unavailable: %s", host, port, exc)
                self.index += 1
                time.sleep(0.2 if self.index % len(self.brokers) == 0 else 0)

    def loop(self, timeout: float) -> None:
        """Serve the connection; if it was lost, move to the next broker (paho then resends what was not acknowledged)."""
        rc = self.client.loop(timeout=timeout)
        if rc != paho.MQTT_ERR_SUCCESS:
            # Right after a node died, the survivors were seen here to close new MQTT connections
            # for a moment (a few rounds in under a second): after each full round, pause.
            if self.failovers and self.failovers % len(self.brokers) == 0:
                time.sleep(0.2)
            self.failovers += 1
            self.index += 1
            logger.warning("publisher lost its broker (%s); moving to the next", rc)
            self.connect()


def fleet_publish(
    fleet: Fleet,
    *,
    count: int | None = None,
    duration_s: float | None = None,
    rate: float | None = None,
    qos: int = 1,
    client_id: str = "tier0-simulator",
    host: str | None = None,
    port: int | None = None,
    stamp_sent: dict | None = None,
    watch_per_site: int = 0,
    watch_interval_s: float = 2.0,
    progress=None,
    stop: threading.Event | None = None,
    brokers: list[tuple[str, int]] | None = None,
    on_ack=None,
) -> PublishReport:
    """Publish readings until ``count`` or ``duration_s`` (None: until ``stop``).

    ``rate`` caps messages per second (None: as fast as the broker takes them).
    Returns once the broker has acknowledged every QoS 1 message. ``brokers``
    (host, port) pairs: the publisher moves to the next when its broker dies
    (default ``host``/``port``, else MQTT_BROKERS). ``on_ack(payload)`` is
    called for each message the broker acknowledged.
    """
    client = mqtt.make_client(client_id)
    confirms = _Confirms(on_ack)
    client.on_publish = confirms.on_publish
    # The network loop runs in this thread (no loop_start): a publish then goes
    # straight to the socket instead of waking paho's network thread through a
    # socket pair and contending for the GIL, which measured 3x slower here.
    # 300 QoS 1 messages in flight, acknowledgements read between chunks of
    # 100: paho rescans the whole window on every acknowledgement, so a larger
    # window costs more CPU than it saves in round trips.
    client.max_inflight_messages_set(300)
    client.max_queued_messages_set(0)
    if brokers is None:
        brokers = [(host or settings.MQTT_HOST, port or settings.MQTT_PORT)] if host or port else mqtt.broker_list()
    link = _Link(client, brokers)
    link.connect()
    started = time.monotonic()
    published = 0
    # Throttled, publish in small chunks (100 a second) so the offered rate is smooth
    # at any time scale (a burst every 0.1 s would measure the burst, not the rate);
    # unthrottled, in chunks of 100 for throughput.
    chunk = max(1, min(100, int(rate // 100))) if rate else 100
    try:
        messages = fleet.messages(stamp_sent=stamp_sent, watch_per_site=watch_per_site, watch_interval_s=watch_interval_s)
        while count is None or published < count:
            if stop is not None and stop.is_set():
                break
            elapsed = time.monotonic() - started
            if duration_s is not None and elapsed >= duration_s:
                break
            if rate and (ahead := published / rate - elapsed) > 0:
                link.loop(min(ahead, 0.5))
                continue
            if published - confirms.count > MAX_UNCONFIRMED:
                # paho keys queued messages by their 16-bit message id: more than
                # 65,535 unconfirmed would overwrite each other (paho issue #377).
                link.loop(0.01)
                continue
            n = chunk if count is None else min(chunk, count - published)
            for device, payload in itertools.islice(messages, n):
                info = client.publish(mqtt.telemetry_topic(device.site_id, device.kind.name, device.device_id), payload, qos=qos)
                if on_ack is not None and qos:
                    confirms.pending[info.mid] = payload
            published += n
            link.loop(0)
            if progress:
                progress(published)
        _wait_confirms(link, confirms, published if qos else 0)
    finally:
        client.disconnect()
    return PublishReport(published=published, seconds=time.monotonic() - started, failovers=link.failovers)


def _wait_confirms(link: _Link, confirms: _Confirms, expected: int, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while confirms.count < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"broker acknowledged {confirms.count} of {expected} messages")
        link.loop(0.01)
