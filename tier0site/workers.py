"""The one batch-worker base every long-running consumer is built on.

    transport --deliveries--> inbox --parse--> store (one transaction, retried) --> acknowledge
                                                 \\--> counters, live event, heartbeat

- A *transport* (``tier0site.transports``: MQTT, AMQP) connects, puts each
  message with its acknowledgement token into the inbox, and acknowledges a
  batch after its commit. It knows nothing of what the messages mean.
- A *sink* (``telemetry.consumer``, ``sessions_app.consumer``) knows what they
  mean: ``handle`` validates a batch (a message that fails is a dead letter
  with the reason, never a crash), stores it in one transaction, dead letters
  included, tells its live publisher, and returns the counts. The worker calls
  the sink once per batch and the sink never calls back into the worker, so a
  message passes each module once.
- ``BatchWorker`` runs the loop: group commit (what is pending is stored as
  soon as the previous commit is done, up to ``batch_size``; ``linger_s`` may
  hold a partial batch a little longer), database outages retried with backoff
  while the batch stays unacknowledged (SIGTERM ends the wait), then
  acknowledgement, Prometheus counters and heartbeats. Work that must happen
  with a batch (alarm rules) runs inside the sink's transaction
  (``worker_status.run_in_store``), so an acknowledged batch was always handled.
  SIGTERM stores and acknowledges what was received, then ``run`` returns.

Shared by every worker, batch or not (the failover watcher, the idle sweep):
``ShutdownFlag`` (one signal handler), ``Backoff``, ``serve_metrics`` and
``every`` (a loop that runs a step each interval until SIGTERM).
"""

import itertools
import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.db import DatabaseError, connection
from prometheus_client import start_http_server

from tier0site.redelivery import DeliveryCounts
from tier0site.worker_status import (  # noqa: F401 - heartbeats are part of this module's API
    Heartbeat,
    ThroughputLog,
    Totals,
    WorkerMetrics,
    worker_heartbeats,
)

logger = logging.getLogger(__name__)


class ShutdownFlag:
    """Set by SIGTERM/SIGINT; workers poll it between batches."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def install(self) -> "ShutdownFlag":
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._handle)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, _frame) -> None:
        logger.info("shutdown requested", extra={"signal": signal.Signals(signum).name})
        self._event.set()

    def set(self) -> None:
        self._event.set()

    @property
    def event(self) -> threading.Event:
        """The underlying event, for code that takes a plain ``threading.Event``."""
        return self._event

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)


def serve_metrics(port: int | None) -> None:
    """Expose this process's Prometheus counters on ``port`` (0 or None: off)."""
    if port:
        start_http_server(port, addr=settings.METRICS_ADDR)
        logger.info("metrics listening", extra={"port": port})


class Backoff:
    """Bounded exponential backoff: 0.5 s doubling up to ``cap_s``."""

    def __init__(self, *, first_s: float = 0.5, cap_s: float = 10.0) -> None:
        self.first_s = first_s
        self.cap_s = cap_s
        self.next_s = first_s

    def next_delay(self) -> float:
        delay = self.next_s
        self.next_s = min(self.next_s * 2, self.cap_s)
        return delay

    def reset(self) -> None:
        self.next_s = self.first_s


def every(interval_s: float, step: Callable[[], object], *, shutdown: ShutdownFlag, clock=time.monotonic) -> None:
    """Run ``step`` every ``interval_s`` (measured start to start) until shutdown."""
    while not shutdown.is_set:
        started = clock()
        step()
        shutdown.wait(max(0.0, interval_s - (clock() - started)))


# --- the batch worker -------------------------------------------------------------------
@dataclass(slots=True)
class Delivery:
    """One message as a transport hands it over."""

    token: Any  # what the transport needs to acknowledge it (MQTT (mid, qos), AMQP delivery tag)
    body: bytes
    meta: Any = None  # MQTT: the topic; AMQP: the message properties
    redelivered: bool = False  # MQTT's dup flag, AMQP's redelivered


class Transport(Protocol):
    errors: tuple[type[BaseException], ...]  # connection failures: reconnect with backoff, inbox dropped

    def connect(self, deliver: Callable[[Delivery], None]) -> None: ...
    def pump(self, inbox: "Inbox", timeout_s: float) -> None: ...  # let deliveries in for up to timeout_s
    def ack(self, batch: list[Delivery]) -> None: ...  # after the batch is committed
    def wait(self, seconds: float, shutdown: ShutdownFlag) -> None: ...  # keeps the connection alive
    def close(self) -> None: ...


@dataclass(slots=True)
class Handled:
    """What a sink did with a batch: its result and its counts."""

    result: Any
    counts: dict[str, int]


class Sink(Protocol):
    kind: str  # names the pipeline ("telemetry", "sessions")
    metrics_prefix: str  # Prometheus names: <prefix>_received_total, ...
    counters: dict[str, str]  # the counts ``Handled.counts`` carries, with their help texts

    # Validate ``deliveries``, store them and ``refused`` (dead letters, with reasons) in one
    # transaction; raise DatabaseError to have the whole batch retried.
    def handle(self, deliveries: list[Delivery], refused: list[tuple[Delivery, str]]) -> Handled: ...
    def tick(self, *, busy: bool) -> None: ...  # between batches: periodic work (live events)
    def close(self) -> None: ...


class Inbox:
    """Deliveries received and not yet stored, oldest first (filled by a transport's thread or callback)."""

    def __init__(self) -> None:
        self._items: deque[Delivery] = deque()
        self._arrived = threading.Event()
        self._waiting = False  # the worker sleeps in wait(): only then is it woken (a lock per message otherwise)
        self.first_at = 0.0  # when the oldest waiting delivery arrived

    def put(self, delivery: Delivery) -> None:
        items = self._items
        if not items:
            self.first_at = time.monotonic()
        items.append(delivery)
        if self._waiting:
            self._arrived.set()

    def wait(self, timeout_s: float) -> None:
        """Block until something is waiting or ``timeout_s`` passed."""
        if self._items or timeout_s <= 0:
            return
        self._waiting = True
        self._arrived.clear()
        try:
            if not self._items:
                self._arrived.wait(timeout_s)
        finally:
            self._waiting = False

    def take(self, limit: int) -> list[Delivery]:
        items = self._items
        return [items.popleft() for _ in range(min(limit, len(items)))]

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def reset_db_connection() -> None:
    """Drop a broken database connection; the next query opens a new one."""
    try:
        connection.close()
    except DatabaseError:
        logger.debug("closing a broken database connection failed")


class BatchWorker:
    """Receive, batch, store, acknowledge, count; see the module doc."""

    poll_s = 0.1  # the longest a wait lasts, so SIGTERM and periodic work are never late

    def __init__(
        self,
        *,
        name: str,
        transport: Transport,
        sink: Sink,
        batch_size: int,
        linger_s: float = 0.0,
        shutdown: ShutdownFlag | None = None,
        idle_exit_s: float | None = None,
        max_payload_bytes: int | None = None,
    ) -> None:
        self.name, self.transport, self.sink = name, transport, sink
        self.batch_size = max(1, batch_size)
        self.linger_s = max(0.0, linger_s)
        self.shutdown = shutdown or ShutdownFlag()
        self.idle_exit_s = idle_exit_s
        self.max_payload_bytes = max_payload_bytes or settings.TELEMETRY_MAX_PAYLOAD_BYTES
        self.inbox = Inbox()
        self.totals = Totals()
        self.metrics = WorkerMetrics(sink.metrics_prefix, sink.counters)
        self.heartbeat = Heartbeat(name)
        self.throughput = ThroughputLog(name)
        self.last_stored_at: float | None = None
        self.clock = time.monotonic
        self.redeliveries = DeliveryCounts(name)
        self.crash_marker = settings.WORKER_CRASH_ON_MARKER.encode()
        self.crash_after_ack = self.crash_marker and settings.WORKER_CRASH_AT == "after_ack"

    # the loop ------------------------------------------------------------------
    def run(self) -> Totals:
        backoff = Backoff()
        try:
            while not self.shutdown.is_set:
                try:
                    self.transport.connect(self.inbox.put)
                    backoff.reset()
                    self._consume()
                    break
                except self.transport.errors as exc:
                    # What was received and not acknowledged goes back to the broker with the connection.
                    self.inbox.clear()
                    self.transport.close()
                    delay = backoff.next_delay()
                    logger.warning("broker unavailable; reconnecting", extra={"error": repr(exc)[:200], "retry_in_s": delay})
                    self.shutdown.wait(delay)
        finally:
            self.transport.close()
            self.sink.close()
            self.heartbeat.stop()
        logger.info("worker stopped", extra={"worker": self.name, **self.totals})
        return self.totals

    def _consume(self) -> None:
        last_message = self.clock()
        while not self.shutdown.is_set:
            self.transport.pump(self.inbox, 0 if self._due() else self._wait_s())
            if self._due():
                if not self._store_next():
                    return
                last_message = self.clock()
            elif self.idle_exit_s is not None and not self.inbox and self.clock() - last_message >= self.idle_exit_s:
                break
            self._tick()
        # SIGTERM (or idle): store and acknowledge everything received.
        while self.inbox and self._store_next():
            pass
        self.sink.tick(busy=False)

    def _due(self) -> bool:
        waiting = len(self.inbox)
        return waiting >= self.batch_size or (waiting > 0 and self.clock() - self.inbox.first_at >= self.linger_s)

    def _wait_s(self) -> float:
        if not self.inbox:
            return self.poll_s
        return min(self.poll_s, max(0.0, self.linger_s - (self.clock() - self.inbox.first_at)))

    def _tick(self) -> None:
        self.sink.tick(busy=bool(self.inbox))
        self.heartbeat.beat(**self.figures())
        self.throughput.log_if_due(self.totals, backlog=len(self.inbox))

    def figures(self) -> dict:
        """What a heartbeat reports (see ``worker_heartbeats``)."""
        t = self.totals
        return {
            "messages_stored": t.received - t.dead_lettered,
            "dead_lettered": t.dead_lettered,
            "batches": t.batches,
            "last_stored_at": self.last_stored_at,
            "backlog": len(self.inbox),
        }

    # one batch -----------------------------------------------------------------
    def _store_next(self) -> bool:
        """Store and acknowledge up to a batch, in order; False if stopped while the database was away."""
        batch = self.inbox.take(self.batch_size)
        for redelivered, run in itertools.groupby(batch, key=lambda d: d.redelivered):
            run = list(run)
            stored = self._replay(run) if redelivered else self._store_batch(run)
            if not stored:
                return False
        return True

    def _replay(self, run: list[Delivery]) -> bool:
        """Redelivered messages: see ``tier0site.redelivery`` for why and how they are counted."""
        counts = self.redeliveries
        if not any(counts.counted([d.body for d in run])):
            counts.count([d.body for d in run])
            stored = self._store_batch(run)
            if stored:
                counts.forget([d.body for d in run])
            return stored
        # Some were in hand when a replay crashed: one at a time, so only the culprit is counted again.
        for delivery in run:
            (deliveries,) = counts.count([delivery.body])
            if counts.too_many(deliveries):
                reason = f"poison: delivered {deliveries} times; the consumer died each time it had this message in hand"
                logger.error("poison message dead-lettered", extra={"worker": self.name, "deliveries": deliveries})
                stored = self._store_batch([], poison=[(delivery, reason)])
            else:
                stored = self._store_batch([delivery])
            if not stored:
                return False
            counts.forget([delivery.body])
        return True

    def _store_batch(self, batch: list[Delivery], *, poison: list | None = None) -> bool:
        accepted, refused = self._screen(batch)
        refused.extend(poison or ())
        started = time.perf_counter()
        handled = self._handle_with_retry(accepted, refused)
        if handled is None:
            return False
        self.transport.ack(batch + [d for d, _reason in poison or ()])
        if self.crash_after_ack and any(self.crash_marker in d.body for d in batch):
            os.abort()  # WORKER_CRASH_AT=after_ack: committed and acknowledged, nothing after it ran
        self._account(len(batch) + len(poison or ()), handled.counts, time.perf_counter() - started)
        return True

    def _screen(self, batch: list[Delivery]) -> tuple[list, list]:
        """What the worker refuses before any sink reads it: oversized payloads."""
        accepted, refused = [], []
        for delivery in batch:
            if self.crash_marker and not self.crash_after_ack and self.crash_marker in delivery.body:
                os.abort()  # WORKER_CRASH_ON_MARKER: tests' stand-in for a message that kills the process
            size = len(delivery.body)
            if size > self.max_payload_bytes:
                refused.append((delivery, f"size: payload of {size} bytes is over the {self.max_payload_bytes}-byte limit"))
            else:
                accepted.append(delivery)
        return accepted, refused

    def _handle_with_retry(self, accepted: list, refused: list) -> Handled | None:
        backoff = Backoff()
        while True:
            try:
                return self.sink.handle(accepted, refused)
            except DatabaseError as exc:
                self.totals.add({"db_errors": 1})
                self.metrics.count({"db_errors": 1})
                reset_db_connection()
                if self.shutdown.is_set:
                    # Left unacknowledged: the broker redelivers it to the next consumer.
                    logger.warning("stopping with the database unavailable; batch not acknowledged")
                    self.inbox.clear()
                    return None
                delay = backoff.next_delay()
                logger.warning(
                    "database unavailable; batch kept unacknowledged", extra={"error": str(exc)[:200], "retry_in_s": delay}
                )
                self.transport.wait(delay, self.shutdown)  # SIGTERM ends the wait; the next failure then stops

    def _account(self, received: int, sink_counts: dict[str, int], seconds: float) -> None:
        counts = {"received": received, **sink_counts}
        self.totals.add({**counts, "batches": 1})
        self.metrics.count(counts)
        self.metrics.batch_size.observe(received)
        self.metrics.commit_seconds.observe(seconds)
        self.last_stored_at = time.time()
