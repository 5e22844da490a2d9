"""The RabbitMQ session worker: receive, batch, commit, then acknowledge.

pika delivers into an inbox (at most ``prefetch`` unacknowledged messages);
whatever has arrived by the time the previous batch is committed becomes the
next batch, so batches grow with the load and latency stays low when it is
quiet. Each batch is parsed, stored with ``sessions_store`` in one
transaction (one multi-row upsert), and only then acknowledged with a single
``basic_ack(multiple=True)``.

- A malformed or invalid message is republished, confirmed, to the queue's
  dead-letter exchange with the reason in the ``x-death-reason`` header, then
  acknowledged with its batch: it never reaches (or blocks) the database.
- A database outage leaves the batch unacknowledged; the worker retries with
  backoff (keeping the AMQP connection alive) and carries on when it is back.
- A lost broker connection drops the unacknowledged inbox (the broker
  redelivers it) and reconnects with backoff; the upsert makes redelivery
  harmless.
- SIGTERM finishes the batch in hand, acknowledges it and exits.

After each batch the ``SRE_User`` summary in Redis is rewritten from the
database, and about once a second one ``sessions.update`` event goes to the
channel layer (group ``sessions``). Every ``SESSIONS_SWEEP_INTERVAL_S`` the
worker marks sessions idle after five minutes without activity.
"""

import logging
import socket
import time
from dataclasses import dataclass

import pika
import pika.exceptions
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError, DataError, IntegrityError, connection, transaction
from django.utils import timezone
from prometheus_client import Counter, Histogram
from redis.exceptions import RedisError

from sessions_app import amqp, selectors
from sessions_app.services import StoreResult, sessions_mark_idle, sessions_store, sre_user_publish
from sessions_app.validation import InvalidMessage, SessionEvent, Snapshot, message_parse
from tier0site.workers import Backoff, ShutdownFlag

logger = logging.getLogger(__name__)

RECEIVED = Counter("tier0_sessions_received_total", "User-activity messages received")
APPLIED = Counter("tier0_sessions_applied_total", "Session rows inserted or moved forward")
SUPERSEDED = Counter("tier0_sessions_superseded_total", "Events older than the stored state (or redelivered): no effect")
SNAPSHOTS = Counter("tier0_sessions_snapshots_total", "Site snapshots stored")
DEAD_LETTERED = Counter("tier0_sessions_dead_lettered_total", "Messages sent to the dead-letter queue")
DB_ERRORS = Counter("tier0_sessions_db_errors_total", "Batch attempts that failed on the database and were retried")
IDLE_MARKED = Counter("tier0_sessions_idle_marked_total", "Sessions the sweep marked idle")
BATCH_SIZE = Histogram("tier0_sessions_batch_size", "Messages per batch", buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000))
COMMIT_SECONDS = Histogram("tier0_sessions_commit_seconds", "Time to store and commit one batch")


@dataclass
class Totals:
    received: int = 0
    applied: int = 0
    superseded: int = 0
    snapshots: int = 0
    dead_lettered: int = 0
    db_errors: int = 0
    batches: int = 0
    idle_marked: int = 0


class LiveSessions:
    """Coalesces batches into one ``sessions.update`` channel-layer event per interval."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.summary: dict | None = None
        self.received = 0
        self.last_sent = time.monotonic()

    def add(self, summary: dict, received: int) -> None:
        self.summary = summary
        self.received += received

    def flush_if_due(self, *, force: bool = False) -> None:
        if self.interval_s <= 0 or self.summary is None:
            return
        now = time.monotonic()
        elapsed = now - self.last_sent
        if not force and elapsed < self.interval_s:
            return
        event = {
            "type": "sessions.update",
            "summary": self.summary,
            "received": self.received,
            "rate_per_s": round(self.received / elapsed, 1) if elapsed else None,
        }
        self.summary, self.received, self.last_sent = None, 0, now
        try:
            async_to_sync(get_channel_layer().group_send)("sessions", event)
        except Exception:  # noqa: BLE001 - live updates must never stop the consumer
            logger.exception("sessions live update not published")


class SessionConsumer:
    poll_s = 0.2

    def __init__(
        self,
        *,
        queue: str | None = None,
        url: str | None = None,
        prefetch: int | None = None,
        batch_size: int | None = None,
        shutdown: ShutdownFlag | None = None,
        idle_exit_s: float | None = None,
        sweep_interval_s: float | None = None,
        flush_interval_s: float | None = None,
        live_interval_s: float | None = None,
        sre_user_key: str | None = None,
    ) -> None:
        self.queue = queue or settings.SESSIONS_QUEUE
        self.url = url
        self.prefetch = prefetch or settings.SESSIONS_PREFETCH
        self.batch_size = min(batch_size or settings.SESSIONS_BATCH_SIZE, self.prefetch)
        self.shutdown = shutdown or ShutdownFlag()
        self.idle_exit_s = idle_exit_s
        self.sweep_interval_s = settings.SESSIONS_SWEEP_INTERVAL_S if sweep_interval_s is None else sweep_interval_s
        self.flush_interval_s = settings.SESSIONS_FLUSH_INTERVAL_S if flush_interval_s is None else flush_interval_s
        self.sre_user_key = sre_user_key or settings.SESSIONS_SRE_USER_KEY
        self.live = LiveSessions(settings.SESSIONS_LIVE_INTERVAL_S if live_interval_s is None else live_interval_s)
        self.totals = Totals()
        self.inbox: list = []
        self.connection = None
        self.channel = None
        self.dl_channel = None
        self.summary_stale = True  # written once at start, so the key exists before the first batch
        self.summary_min_interval_s = settings.SESSIONS_SUMMARY_MIN_INTERVAL_S
        self.pending_received = 0
        self.clock = time.monotonic
        self.last_summary = 0.0
        self.last_sweep = self.clock()
        self.consumer_name = f"{socket.gethostname()}-sessions"

    # connection ------------------------------------------------------------
    def _connect(self) -> None:
        self.connection = pika.BlockingConnection(amqp.connection_parameters(self.url))
        self.channel = self.connection.channel()
        amqp.topology_declare(self.channel, self.queue)
        self.channel.basic_qos(prefetch_count=self.prefetch)
        # Dead letters go out on their own confirmed channel: a publish problem
        # there never disturbs the consuming channel's deliveries.
        self.dl_channel = self.connection.channel()
        self.dl_channel.confirm_delivery()
        self.channel.basic_consume(queue=self.queue, on_message_callback=self._on_message)
        logger.info("rabbitmq consumer connected", extra={"queue": self.queue, "prefetch": self.prefetch})

    def _disconnect(self) -> None:
        if self.connection is not None and self.connection.is_open:
            try:
                self.connection.close()
            except pika.exceptions.AMQPError:
                logger.warning("rabbitmq connection did not close cleanly")
        self.connection = self.channel = self.dl_channel = None

    def _on_message(self, _channel, method, properties, body) -> None:
        self.inbox.append((method.delivery_tag, properties, body))

    # main loop -------------------------------------------------------------
    def run(self) -> Totals:
        backoff = Backoff()
        try:
            while not self.shutdown.is_set:
                try:
                    self._connect()
                    backoff.reset()
                    if self._consume():
                        break
                except pika.exceptions.AMQPError as exc:
                    # Unacknowledged deliveries go back to the queue with the connection.
                    self.inbox.clear()
                    delay = backoff.next_delay()
                    logger.warning("rabbitmq unavailable; reconnecting", extra={"error": repr(exc)[:200], "retry_in_s": delay})
                    self._disconnect()
                    self.shutdown.wait(delay)
        finally:
            self._disconnect()
            self.live.flush_if_due(force=True)
        logger.info("rabbitmq consumer stopped", extra=self.totals.__dict__)
        return self.totals

    def _consume(self) -> bool:
        """Consume until shutdown (True) or idle exit (True); AMQP errors propagate."""
        last_message = self.clock()
        while not self.shutdown.is_set:
            self.connection.process_data_events(time_limit=0 if self.inbox else self.poll_s)
            if self.inbox:
                self._gather()
                if not self._flush():
                    return True
                last_message = self.clock()
            elif self.idle_exit_s is not None and self.clock() - last_message >= self.idle_exit_s:
                break
            self._periodic()
        # Finish the batch in hand; deliveries not yet in the inbox are requeued on close.
        if self.inbox:
            self._flush()
        self._publish_summary_if_stale()
        return True

    def _gather(self) -> None:
        """Take in up to a batch: what the socket holds plus what arrives within the flush interval.

        The short wait turns a trickle (the simulator's 100/s) into batches of
        several messages instead of one commit and one summary per message.
        """
        deadline = self.clock() + self.flush_interval_s
        while len(self.inbox) < self.batch_size:
            before = len(self.inbox)
            remaining = deadline - self.clock()
            self.connection.process_data_events(time_limit=max(0.0, remaining))
            if remaining <= 0 and len(self.inbox) == before:
                return

    def _periodic(self) -> None:
        now = self.clock()
        if self.sweep_interval_s > 0 and now - self.last_sweep >= self.sweep_interval_s:
            self.last_sweep = now
            self.sweep()
        self._publish_summary_if_stale(busy=bool(self.inbox))
        self.live.flush_if_due()

    # one batch -------------------------------------------------------------
    def _flush(self) -> bool:
        """Store, dead-letter and acknowledge one batch; False if stopped during a database outage."""
        batch, self.inbox = self.inbox[: self.batch_size], self.inbox[self.batch_size :]
        now = timezone.now()
        parsed: list[tuple] = []  # (properties, body, event or snapshot)
        rejects: list[tuple] = []  # (properties, body, reason)
        for _tag, properties, body in batch:
            try:
                parsed.append((properties, body, message_parse(body, message_type=properties.type, now=now)))
            except InvalidMessage as exc:
                rejects.append((properties, body, str(exc)))
        started = time.perf_counter()
        result = self._store_with_retry(parsed, rejects)
        if result is None:
            return False
        COMMIT_SECONDS.observe(time.perf_counter() - started)
        for properties, body, reason in rejects:
            self._dead_letter(properties, body, reason)
        self.channel.basic_ack(delivery_tag=batch[-1][0], multiple=True)
        self._count(result, received=len(batch), dead_lettered=len(rejects))
        self.summary_stale = True
        self.pending_received += len(batch)
        # Take in what arrived during the commit: it tells whether the queue is busy.
        self.connection.process_data_events(time_limit=0)
        return True

    def _store_with_retry(self, parsed: list, rejects: list) -> StoreResult | None:
        backoff = Backoff()
        events = [item for _p, _b, item in parsed if isinstance(item, SessionEvent)]
        snapshots = [item for _p, _b, item in parsed if isinstance(item, Snapshot)]
        one_by_one = False
        while True:
            try:
                if one_by_one:
                    result, refused = self._store_one_by_one(parsed)
                    rejects.extend(refused)
                    return result
                return sessions_store(events=events, snapshots=snapshots)
            except (DataError, IntegrityError) as exc:
                if one_by_one:
                    raise
                # Something the validation let through that the database refuses:
                # find it one message at a time instead of retrying the batch forever.
                logger.warning("batch refused by the database; storing one by one", extra={"error": str(exc)[:200]})
                one_by_one = True
            except DatabaseError as exc:
                DB_ERRORS.inc()
                self.totals.db_errors += 1
                self._reset_db_connection()
                if self.shutdown.is_set:
                    logger.warning("stopping with the database unavailable; batch left unacknowledged")
                    self.inbox.clear()
                    return None
                delay = backoff.next_delay()
                logger.warning(
                    "database unavailable; batch kept unacknowledged", extra={"error": str(exc)[:200], "retry_in_s": delay}
                )
                # Sleeping through the connection keeps AMQP heartbeats going.
                self.connection.sleep(delay)

    def _store_one_by_one(self, parsed: list) -> tuple[StoreResult, list]:
        """Store each message in its own savepoint; returns the total and the refused ones."""
        total, refused = StoreResult(), []
        with transaction.atomic():
            for properties, body, item in parsed:
                try:
                    with transaction.atomic():
                        if isinstance(item, SessionEvent):
                            result = sessions_store(events=[item], snapshots=[])
                        else:
                            result = sessions_store(events=[], snapshots=[item])
                except (DataError, IntegrityError) as exc:
                    logger.warning("message refused by the database", extra={"error": str(exc)[:200]})
                    refused.append((properties, body, f"database refused: {exc}"[:500]))
                    continue
                total.events += result.events
                total.applied += result.applied
                total.superseded += result.superseded
                total.snapshots += result.snapshots
        return total, refused

    def _reset_db_connection(self) -> None:
        try:
            connection.close()
        except DatabaseError:
            logger.debug("closing a broken database connection failed")

    def _dead_letter(self, properties, body: bytes, reason: str) -> None:
        headers = dict(properties.headers or {})
        headers.update(
            {
                amqp.REASON_HEADER: reason,
                "x-original-queue": self.queue,
                "x-rejected-at": timezone.now().isoformat(),
                "x-rejected-by": self.consumer_name,
            }
        )
        self.dl_channel.basic_publish(
            exchange=amqp.dead_letter_exchange(self.queue),
            routing_key=self.queue,
            body=body,
            properties=pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent,
                content_type=properties.content_type,
                type=properties.type,
                message_id=properties.message_id,
                timestamp=properties.timestamp,
                headers=headers,
            ),
        )
        logger.warning("message dead-lettered", extra={"reason": reason[:200], "queue": self.queue})

    def _count(self, result: StoreResult, *, received: int, dead_lettered: int) -> None:
        RECEIVED.inc(received)
        APPLIED.inc(result.applied)
        SUPERSEDED.inc(result.superseded)
        SNAPSHOTS.inc(result.snapshots)
        DEAD_LETTERED.inc(dead_lettered)
        BATCH_SIZE.observe(received)
        t = self.totals
        t.received += received
        t.applied += result.applied
        t.superseded += result.superseded
        t.snapshots += result.snapshots
        t.dead_lettered += dead_lettered
        t.batches += 1

    # after commit ----------------------------------------------------------
    def _publish_summary_if_stale(self, *, busy: bool = False) -> None:
        """Rewrite SRE_User from the database if a batch or sweep changed it.

        Under a flood (``busy``: more messages already waiting) refreshes are
        coalesced to one per ``summary_min_interval_s``; once the queue is quiet
        the summary always reflects the last commit.
        """
        if not self.summary_stale:
            return
        if busy and self.clock() - self.last_summary < self.summary_min_interval_s:
            return
        try:
            summary = sre_user_publish(summary=selectors.session_summary(), key=self.sre_user_key)
        except (DatabaseError, RedisError) as exc:
            # The batch is committed and acknowledged; the summary catches up later.
            self._reset_db_connection()
            logger.warning("SRE_User summary not refreshed", extra={"error": str(exc)[:200]})
            return
        self.summary_stale = False
        self.last_summary = self.clock()
        self.live.add(summary, self.pending_received)
        self.pending_received = 0

    def sweep(self) -> int:
        try:
            marked = sessions_mark_idle()
        except DatabaseError as exc:
            self._reset_db_connection()
            logger.warning("idle sweep failed; will retry", extra={"error": str(exc)[:200]})
            return 0
        if marked:
            IDLE_MARKED.inc(marked)
            self.totals.idle_marked += marked
            logger.info("sessions marked idle", extra={"count": marked})
        # Refreshed on every sweep even when nothing changed: online times move on,
        # and a Redis that lost the key gets it back.
        self.summary_stale = True
        return marked
