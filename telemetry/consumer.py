"""The MQTT ingest worker: receive, batch, commit, then acknowledge.

paho's network thread appends each message to an inbox; the worker thread
takes up to a batch at a time (or what arrived within the flush interval),
stores it with ``readings_ingest`` in one transaction, and only then sends the
PUBACKs. A crash before the commit leaves the messages unacknowledged in the
broker's persistent session, which redelivers them; the natural key makes the
redelivery harmless. Once a second the worker bumps the device cache versions
and publishes one "what changed" event to the channel layer.
"""

import logging
import threading
import time
from collections import deque

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from prometheus_client import Counter, Histogram

from telemetry import mqtt
from telemetry.services import IngestResult, RawMessage, device_cache_bump, partitions_ensure, readings_ingest
from tier0site.workers import Backoff, ShutdownFlag

logger = logging.getLogger(__name__)

RECEIVED = Counter("tier0_mqtt_received_total", "MQTT messages received")
STORED = Counter("tier0_mqtt_stored_total", "Readings stored")
DUPLICATES = Counter("tier0_mqtt_duplicates_total", "Redelivered readings already stored")
DEAD_LETTERED = Counter("tier0_mqtt_dead_lettered_total", "Messages sent to dead letters")
DB_ERRORS = Counter("tier0_mqtt_db_errors_total", "Batches that failed on the database and were retried")
BATCH_SIZE = Histogram("tier0_mqtt_batch_size", "Messages per batch", buckets=(1, 10, 100, 500, 1000, 2500, 5000, 10000))
COMMIT_SECONDS = Histogram("tier0_mqtt_commit_seconds", "Time to store and commit one batch")


class LiveUpdates:
    """Coalesces ingest results into one channel-layer event per interval."""

    MAX_ALERTS = 50

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.pending = IngestResult()
        self.last_sent = time.monotonic()

    def add(self, result: IngestResult) -> None:
        self.pending.received += result.received
        self.pending.stored += result.stored
        self.pending.dead_lettered += result.dead_lettered
        self.pending.groups |= result.groups
        self.pending.alerts.update(result.alerts)

    def flush_if_due(self, *, force: bool = False) -> None:
        now = time.monotonic()
        elapsed = now - self.last_sent
        if not force and elapsed < self.interval_s:
            return
        pending, self.pending, self.last_sent = self.pending, IngestResult(), now
        if not pending.received:
            return
        if pending.groups:
            device_cache_bump(groups=pending.groups)
        self._publish(pending, elapsed)

    def _publish(self, pending: IngestResult, elapsed: float) -> None:
        alerts = sorted(pending.alerts.values(), key=lambda r: r.timestamp, reverse=True)[: self.MAX_ALERTS]
        event = {
            "type": "telemetry.update",
            "received": pending.received,
            "stored": pending.stored,
            "dead_lettered": pending.dead_lettered,
            "rate_per_s": round(pending.received / elapsed, 1) if elapsed else None,
            "groups": sorted([site, device_type] for site, device_type in pending.groups),
            "alerts": [
                {
                    "device_id": r.device_id,
                    "site_id": r.site_id,
                    "device_type": r.device_type,
                    "state": r.state,
                    "code": r.payload["status"].get("code", ""),
                    "message": r.payload["status"].get("message", ""),
                    "timestamp_utc": r.timestamp.isoformat(),
                }
                for r in alerts
            ],
        }
        try:
            async_to_sync(get_channel_layer().group_send)("telemetry", event)
        except Exception:  # noqa: BLE001 - live updates must never stop ingest
            logger.exception("live update not published")


class MqttIngestWorker:
    def __init__(
        self,
        *,
        client_id: str,
        shared: bool = False,
        batch_size: int | None = None,
        flush_interval_s: float | None = None,
        host: str | None = None,
        port: int | None = None,
        shutdown: ShutdownFlag | None = None,
    ) -> None:
        self.client_id = client_id
        self.shared = shared
        self.batch_size = batch_size or settings.TELEMETRY_BATCH_SIZE
        self.flush_interval_s = flush_interval_s if flush_interval_s is not None else settings.TELEMETRY_FLUSH_INTERVAL_S
        self.host, self.port = host, port
        self.shutdown = shutdown or ShutdownFlag()
        self.inbox: deque = deque()
        self.arrived = threading.Event()
        self.live = LiveUpdates(settings.TELEMETRY_LIVE_INTERVAL_S)
        self.connected = threading.Event()
        self.totals = IngestResult()
        self.client = mqtt.make_client(client_id, manual_ack=True, persistent=True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect

    # paho's network thread -------------------------------------------------
    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            logger.error("mqtt connect refused", extra={"reason": str(reason_code)})
            return
        client.subscribe(mqtt.telemetry_subscription(shared=self.shared), qos=1)
        self.connected.set()
        logger.info("mqtt connected", extra={"client_id": self.client_id, "shared": self.shared})

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        self.connected.clear()
        logger.warning("mqtt disconnected", extra={"reason": str(reason_code)})

    def _on_message(self, _client, _userdata, message) -> None:
        self.inbox.append((message.mid, message.qos, message.topic, message.payload))
        if len(self.inbox) >= self.batch_size:
            self.arrived.set()

    # worker thread ---------------------------------------------------------
    def run(self) -> IngestResult:
        partitions_ensure()
        mqtt.connect(self.client, host=self.host, port=self.port)
        self.client.loop_start()
        try:
            last_flush = time.monotonic()
            while not self.shutdown.is_set:
                # Short waits, so SIGTERM is noticed at once even with a long flush interval.
                full = self.arrived.wait(min(self.flush_interval_s, 0.1))
                if full or time.monotonic() - last_flush >= self.flush_interval_s:
                    self.arrived.clear()
                    self._drain(until_empty=False)
                    last_flush = time.monotonic()
                self.live.flush_if_due()
            # Finish the batch in hand: everything received is stored and acknowledged.
            self._drain(until_empty=True)
            self.live.flush_if_due(force=True)
        finally:
            self.client.disconnect()
            self.client.loop_stop()
        logger.info("mqtt consumer stopped", extra=self._totals_dict())
        return self.totals

    def _drain(self, *, until_empty: bool) -> None:
        while self.inbox:
            batch = [self.inbox.popleft() for _ in range(min(self.batch_size, len(self.inbox)))]
            if not self._store_with_retry(batch):
                return
            if not until_empty and len(self.inbox) < self.batch_size:
                return

    def _store_with_retry(self, batch: list) -> bool:
        """Store and acknowledge ``batch``; False if shut down while the database was away."""
        backoff = Backoff()
        messages = [RawMessage(topic, payload) for _mid, _qos, topic, payload in batch]
        while True:
            started = time.perf_counter()
            try:
                result = readings_ingest(messages=messages)
                break
            except DatabaseError as exc:
                DB_ERRORS.inc()
                close_old_connections()
                if self.shutdown.is_set:
                    # Left unacknowledged: the broker redelivers it to the next consumer.
                    logger.warning("stopping with the database unavailable; batch not acknowledged")
                    self.inbox.clear()
                    return False
                delay = backoff.next_delay()
                logger.warning(
                    "database unavailable; batch kept unacknowledged", extra={"error": str(exc)[:200], "retry_in_s": delay}
                )
                self.shutdown.wait(delay)  # SIGTERM ends the wait; the next failure then stops
        COMMIT_SECONDS.observe(time.perf_counter() - started)
        for mid, qos, _topic, _payload in batch:
            if qos:
                self.client.ack(mid, qos)
        self._count(result)
        self.live.add(result)
        return True

    def _count(self, result: IngestResult) -> None:
        RECEIVED.inc(result.received)
        STORED.inc(result.stored)
        DUPLICATES.inc(result.duplicates)
        DEAD_LETTERED.inc(result.dead_lettered)
        BATCH_SIZE.observe(result.received)
        for name in ("received", "stored", "duplicates", "dead_lettered"):
            setattr(self.totals, name, getattr(self.totals, name) + getattr(result, name))

    def _totals_dict(self) -> dict:
        return {name: getattr(self.totals, name) for name in ("received", "stored", "duplicates", "dead_lettered")}
