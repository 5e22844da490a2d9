"""A failover's steps: timed, logged, published live as they happen, recorded at the end.

Each step's duration goes into a ``FailoverEvent`` and, live, to the channel-layer
group ``failover`` (``tier0site.live.FAILOVER``, coalesced: at most one message a
second, each with every step so far, the final one at once). A failed step keeps
its own detail; the error text itself is in the event's ``error`` only (said once).
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import DatabaseError, connections

from failover.models import FailoverEvent
from tier0site import live

logger = logging.getLogger(__name__)


# --- step recording -------------------------------------------------------------------
@dataclass
class StepLog:
    kind: str
    source_region: str
    target_region: str
    publisher: live.Publisher
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.monotonic)
    steps: list[dict] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str):
        entry = {"name": name, "seconds": None, "ok": False, "detail": ""}
        self.steps.append(entry)
        begun = time.monotonic()
        try:
            yield entry
            entry["ok"] = True
        finally:
            entry["seconds"] = round(time.monotonic() - begun, 4)
            logger.info("failover step", extra={"step": name, "seconds": entry["seconds"], "ok": entry["ok"]})
            if entry["ok"]:
                # A failure is published once, with its error, by ``record``.
                self.publisher.add(self.payload("running"))
                self.publisher.flush()

    def payload(self, status: str) -> dict:
        return {
            "status": status,
            "kind": self.kind,
            "source_region": self.source_region,
            "target_region": self.target_region,
            "elapsed_s": round(time.monotonic() - self.started, 3),
            "steps": [dict(s) for s in self.steps],
        }

    def step_seconds(self) -> dict[str, float]:
        return {s["name"]: s["seconds"] for s in self.steps}


def db_retry(fn, *, timeout_s: float = 15.0):
    """Run an ORM call, reconnecting while the database behind ``default`` changes hands."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return fn()
        except DatabaseError:
            if time.monotonic() > deadline:
                raise
            for conn in connections.all(initialized_only=True):
                with contextlib.suppress(DatabaseError):
                    conn.close()
            time.sleep(0.05)


def record(log: StepLog, *, status: str, error: str = "", requested_by=None) -> FailoverEvent:
    finished = datetime.now(UTC)
    event = db_retry(
        lambda: FailoverEvent.objects.create(
            kind=log.kind,
            status=status,
            source_region=log.source_region,
            target_region=log.target_region,
            started_at=log.started_at,
            finished_at=finished,
            total_s=round(time.monotonic() - log.started, 4),
            steps=log.steps,
            details=log.details,
            error=error,
            requested_by=requested_by if getattr(requested_by, "pk", None) else None,
        )
    )
    if status != FailoverEvent.Status.REFUSED:
        # A refusal changed nothing: the requester's answer and the history say it; the
        # other dashboards are not told about a failover that never started.
        log.publisher.add({**log.payload(status), "event_id": event.id, "total_s": event.total_s, "error": error})
        log.publisher.flush(force=True)
    return event


def progress_publisher(*, enabled: bool) -> live.Publisher:
    return live.Publisher(live.FAILOVER, enabled=enabled)
