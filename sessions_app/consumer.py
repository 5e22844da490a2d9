"""The RabbitMQ session worker: the batch-worker base with an AMQP transport and the sessions sink.

The base (``tier0site.workers``) receives (at most ``prefetch`` unacknowledged),
batches by group commit, retries through database outages and acknowledges
after the commit with one ``basic_ack(multiple=True)``. This module says what
a user-activity message is (``message_parse``) and how a batch is stored
(``sessions_store``, one multi-row upsert; a row PostgreSQL refuses is found
one by one). Refused messages are republished, confirmed, to the queue's
dead-letter exchange with the reason in ``x-death-reason`` before the batch is
acknowledged. After a batch the ``SRE_User`` summary in Redis is rewritten
(at most once per ``SESSIONS_SUMMARY_MIN_INTERVAL_S`` while messages keep
coming) and about once a second one ``sessions.update`` goes to the dashboard.
The idle sweep is a process of its own (``sweep_idle_sessions --loop``).
"""

import logging
import socket
import time
from dataclasses import dataclass, field
from typing import ClassVar

import pika
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from redis.exceptions import RedisError

from sessions_app import amqp, selectors
from sessions_app.services import StoreResult, sessions_store, sre_user_publish
from sessions_app.validation import InvalidMessage, SessionEvent, message_parse
from tier0site import live
from tier0site.batches import excerpt, store_isolating
from tier0site.transports import AmqpTransport
from tier0site.workers import BatchWorker, Delivery, Handled, ShutdownFlag, reset_db_connection

logger = logging.getLogger(__name__)


@dataclass
class SessionBatch:
    stored: StoreResult
    received: int
    rejected: list = field(default_factory=list)  # (delivery, reason): dead letters to publish


def _store(items: list) -> StoreResult:
    events = [item for _d, item in items if isinstance(item, SessionEvent)]
    snapshots = [item for _d, item in items if not isinstance(item, SessionEvent)]
    return sessions_store(events=events, snapshots=snapshots)


def _merge(pending: dict | None, item: dict) -> dict:
    received = (pending or {}).get("received", 0) + item["received"]
    return {"summary": item.get("summary") or (pending or {}).get("summary"), "received": received}


def _render(pending: dict, elapsed_s: float) -> dict:
    return {**pending, "rate_per_s": live.rate_per_s(pending["received"], elapsed_s)}


class SessionSink:
    kind = "sessions"
    metrics_prefix = "tier0_sessions"
    counters: ClassVar[dict[str, str]] = {
        "applied": "Session rows inserted or moved forward",
        "superseded": "Events older than the stored state (or redelivered): no effect",
        "snapshots": "Site snapshots stored",
        "dead_lettered": "Messages sent to the dead-letter queue",
    }

    def __init__(self, transport: AmqpTransport, *, live_interval_s: float | None = None, sre_user_key: str | None = None):
        self.transport = transport
        self.sre_user_key = sre_user_key or settings.SESSIONS_SRE_USER_KEY
        interval = settings.SESSIONS_LIVE_INTERVAL_S if live_interval_s is None else live_interval_s
        self.live = live.Publisher(live.SESSIONS, interval_s=interval, merge=_merge, render=_render, background=True)
        self.summary_stale = True  # written once at start, so the key exists before the first batch
        self.summary_min_interval_s = settings.SESSIONS_SUMMARY_MIN_INTERVAL_S
        self.last_summary = 0.0
        self.pending_received = 0
        self.consumer_name = f"{socket.gethostname()}-sessions"

    def handle(self, deliveries: list[Delivery], refused: list[tuple[Delivery, str]]) -> Handled:
        parsed, rejected = [], list(refused)
        now = timezone.now()
        for delivery in deliveries:
            try:
                parsed.append((delivery, message_parse(delivery.body, message_type=delivery.meta.type, now=now)))
            except InvalidMessage as exc:  # the parser raises nothing else
                rejected.append((delivery, str(exc)))
        with transaction.atomic():
            results, refused_rows = store_isolating(parsed, _store)
        total = StoreResult()
        for result in results:
            for name in ("events", "applied", "superseded", "snapshots"):
                setattr(total, name, getattr(total, name) + getattr(result, name))
        rejected.extend((delivery, reason) for (delivery, _item), reason in refused_rows)
        # Dead letters are confirmed by the broker before the batch is acknowledged.
        for delivery, reason in rejected:
            self._dead_letter(delivery, reason)
        self.summary_stale = True
        self.pending_received += len(deliveries) + len(refused)
        batch = SessionBatch(stored=total, received=len(deliveries) + len(refused), rejected=rejected)
        counts = {"applied": total.applied, "superseded": total.superseded, "snapshots": total.snapshots}
        return Handled(batch, {**counts, "dead_lettered": len(rejected)})

    def tick(self, *, busy: bool) -> None:
        # Under a flood the summary is rewritten once per interval; once quiet it reflects the last commit.
        if self.summary_stale and (not busy or time.monotonic() - self.last_summary >= self.summary_min_interval_s):
            self._publish_summary()
        self.live.flush()

    def close(self) -> None:
        # Stopping (SIGTERM, idle exit) right after a batch: the summary still reflects the last commit.
        if self.summary_stale:
            self._publish_summary()
        self.live.flush(force=True)
        self.live.close()

    def _publish_summary(self) -> None:
        try:
            summary = sre_user_publish(summary=selectors.session_summary(), key=self.sre_user_key)
        except (DatabaseError, RedisError) as exc:
            # The batch is committed and acknowledged; the summary catches up later.
            reset_db_connection()
            logger.warning("SRE_User summary not refreshed", extra={"error": str(exc)[:200]})
            return
        self.summary_stale = False
        self.last_summary = time.monotonic()
        self.live.add({"summary": summary, "received": self.pending_received})
        self.pending_received = 0

    def _dead_letter(self, delivery: Delivery, reason: str) -> None:
        properties = delivery.meta
        kept = excerpt(delivery.body)  # a flood of huge junk cannot fill the dead-letter queue
        headers = dict(properties.headers or {})
        headers.update(
            {
                amqp.REASON_HEADER: reason,
                "x-original-queue": self.transport.queue,
                "x-rejected-at": timezone.now().isoformat(),
                "x-rejected-by": self.consumer_name,
                "x-payload-size": kept.size,
                "x-payload-sha256": kept.sha256,
            }
        )
        self.transport.publish(
            exchange=amqp.dead_letter_exchange(self.transport.queue),
            routing_key=self.transport.queue,
            body=kept.head,
            properties=pika.BasicProperties(
                delivery_mode=pika.DeliveryMode.Persistent,
                content_type=properties.content_type,
                type=properties.type,
                message_id=properties.message_id,
                timestamp=properties.timestamp,
                headers=headers,
            ),
        )
        logger.warning("message dead-lettered", extra={"reason": reason[:200], "queue": self.transport.queue})


def session_worker(
    *,
    queue: str | None = None,
    url: str | None = None,
    prefetch: int | None = None,
    batch_size: int | None = None,
    shutdown: ShutdownFlag | None = None,
    idle_exit_s: float | None = None,
    flush_interval_s: float | None = None,
    live_interval_s: float | None = None,
    sre_user_key: str | None = None,
) -> BatchWorker:
    """``run_rabbitmq_consumer``: user activity from RabbitMQ into sessions."""
    prefetch = prefetch or settings.SESSIONS_PREFETCH
    transport = AmqpTransport(
        parameters=amqp.connection_parameters(url),
        queue=queue or settings.SESSIONS_QUEUE,
        prefetch=prefetch,
        declare=amqp.topology_declare,
    )
    return BatchWorker(
        name="rabbitmq_consumer",
        transport=transport,
        sink=SessionSink(transport, live_interval_s=live_interval_s, sre_user_key=sre_user_key),
        batch_size=min(batch_size or settings.SESSIONS_BATCH_SIZE, prefetch),
        linger_s=settings.SESSIONS_FLUSH_INTERVAL_S if flush_interval_s is None else flush_interval_s,
        shutdown=shutdown,
        idle_exit_s=idle_exit_s,
    )
