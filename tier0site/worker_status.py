"""What a worker does besides storing: in-store hooks, counters, heartbeats, throughput logs.

Imported through ``tier0site.workers`` (``worker_heartbeats``); pipelines call ``run_in_store``.
"""

import logging
import os
import socket
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from prometheus_client import Counter, Histogram

logger = logging.getLogger("tier0site.workers")


HOOK_ERRORS = Counter("tier0_worker_hook_errors_total", "In-store hooks that raised", ["kind"])


# --- in-store hooks ---------------------------------------------------------------------
_IN_STORE: dict[str, list[Callable]] = {}


def register_in_store(kind: str, fn: Callable[[object], object]) -> None:
    """Call ``fn(result)`` inside each ``kind`` batch's store transaction, before its commit.

    For work that must never be skipped once the batch is acknowledged (alarm
    rule evaluation): it commits with the batch or not at all. Each hook runs in a
    savepoint: what it raises is logged and counted and rolls back only its own
    writes, except a ``DatabaseError``, which fails the whole batch (the worker
    keeps it unacknowledged and retries it, so the hook runs again).
    """
    hooks = _IN_STORE.setdefault(kind, [])
    if fn not in hooks:
        hooks.append(fn)


def unregister_in_store(kind: str, fn: Callable) -> None:
    hooks = _IN_STORE.get(kind, [])
    if fn in hooks:
        hooks.remove(fn)


def run_in_store(kind: str, result: object) -> None:
    for fn in tuple(_IN_STORE.get(kind, ())):
        try:
            with transaction.atomic():
                fn(result)
        except DatabaseError:
            raise
        except Exception:  # a bug in a hook never stops ingest
            HOOK_ERRORS.labels(kind).inc()
            logger.exception("in-store hook failed", extra={"kind": kind, "hook": getattr(fn, "__qualname__", repr(fn))})


# --- heartbeats -------------------------------------------------------------------------
HEARTBEAT_PREFIX = "workers:beat:"


class Heartbeat:
    """A worker's liveness in Redis (the cache), expiring after three missed beats."""

    def __init__(self, worker: str, *, interval_s: float | None = None) -> None:
        self.worker = worker
        self.interval_s = settings.WORKER_HEARTBEAT_S if interval_s is None else interval_s
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.started_at = time.time()
        self.key = f"{HEARTBEAT_PREFIX}{worker}:{self.host}:{self.pid}"
        self.last_beat = 0.0

    def beat(self, *, force: bool = False, **figures) -> None:
        """Record ``figures`` (messages_stored, dead_lettered, batches, last_stored_at, backlog) if a beat is due."""
        now = time.time()
        if not force and now - self.last_beat < self.interval_s:
            return
        self.last_beat = now
        record = {"worker": self.worker, "host": self.host, "pid": self.pid, "started_at": self.started_at, "last_beat": now}
        record.update({"messages_stored": 0, "dead_lettered": 0, "batches": 0, "last_stored_at": None, "backlog": 0})
        record.update(figures)
        try:
            cache.set(self.key, record, timeout=max(1, round(3 * self.interval_s)))
        except Exception:  # Redis away: the worker goes on, its beat is missed
            logger.warning("heartbeat not recorded", extra={"worker": self.worker}, exc_info=True)

    def stop(self) -> None:
        try:
            cache.delete(self.key)
        except Exception:  # noqa: BLE001 - it expires by itself
            logger.warning("heartbeat not removed", extra={"worker": self.worker})


def worker_heartbeats() -> list[dict]:
    """The live workers (one dict per process, see ``Heartbeat``), by worker name then host and pid."""
    keys = list(cache.iter_keys(f"{HEARTBEAT_PREFIX}*"))
    beats = [beat for beat in cache.get_many(keys).values() if beat]
    return sorted(beats, key=lambda b: (b["worker"], b["host"], b["pid"]))


class ThroughputLog:
    """One log line per ``WORKER_LOG_EVERY_S`` with what the worker did since the last one."""

    def __init__(self, worker: str, *, every_s: float | None = None) -> None:
        self.worker = worker
        self.every_s = settings.WORKER_LOG_EVERY_S if every_s is None else every_s
        self.last_at = time.monotonic()
        self.last: dict = {}

    def log_if_due(self, totals: dict, *, backlog: int) -> None:
        now = time.monotonic()
        elapsed = now - self.last_at
        if self.every_s <= 0 or elapsed < self.every_s:
            return
        delta = {name: value - self.last.get(name, 0) for name, value in totals.items()}
        self.last_at, self.last = now, dict(totals)
        logger.info(
            "%s: %d received (%.0f/s), %d dead-lettered, %d batches, backlog %d",
            self.worker,
            delta.get("received", 0),
            delta.get("received", 0) / elapsed,
            delta.get("dead_lettered", 0),
            delta.get("batches", 0),
            backlog,
            extra={"worker": self.worker, "backlog": backlog, **{f"{k}_delta": v for k, v in delta.items()}},
        )


class Totals(dict):
    """Counts since start; ``totals.stored`` reads ``totals["stored"]`` (0 if never counted)."""

    def __getattr__(self, name: str) -> int:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.get(name, 0)

    def add(self, counts: dict[str, int]) -> None:
        for name, value in counts.items():
            self[name] = self.get(name, 0) + value


_METRICS: dict[str, object] = {}


def _metric(kind, name: str, documentation: str, **options):
    """One Prometheus metric per name in this process, however many workers are built (tests build many)."""
    if name not in _METRICS:
        _METRICS[name] = kind(name, documentation, **options)
    return _METRICS[name]


class WorkerMetrics:
    BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)

    def __init__(self, prefix: str, counters: dict[str, str]) -> None:
        names = {"received": "Messages received", "db_errors": "Batch attempts that failed on the database and were retried"}
        names.update(counters)
        self.counters = {name: _metric(Counter, f"{prefix}_{name}_total", doc) for name, doc in names.items()}
        self.batch_size = _metric(Histogram, f"{prefix}_batch_size", "Messages per batch", buckets=self.BATCH_BUCKETS)
        self.commit_seconds = _metric(Histogram, f"{prefix}_commit_seconds", "Time to store and commit one batch")

    def count(self, counts: dict[str, int]) -> None:
        for name, value in counts.items():
            if value and name in self.counters:
                self.counters[name].inc(value)
