"""Failover drill: a steady stream of numbered, acknowledged inserts across a failover.

The writer goes through the application's own database routing (the ORM on
``default``; in HA mode a libpq multi-host connection that keeps the node taking
writes). A write counts as acknowledged only once ``create()`` returned. After
the failover, every acknowledged number must be on the new primary exactly once:

- ``lost_writes``: acknowledged numbers missing on the new primary;
- ``duplicate_writes``: extra copies (a failed attempt is retried with the same
  number and there is no unique key, so a commit whose acknowledgement was lost
  and then retried shows up here instead of being merged away);
- ``write_unavailable_s``: the longest gap between two consecutive acknowledged
  writes (includes one normal write interval).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
import uuid
from collections import Counter

from django.db import DatabaseError, connections

from devtools.topology import pg_kill
from failover import probes, services
from failover.models import DrillWrite
from failover.nodes import Topology
from failover.watcher import PrimaryWatcher
from tier0site.routers import use_primary

logger = logging.getLogger(__name__)


class DrillWriter(threading.Thread):
    def __init__(self, *, run_id: str, rate_hz: float) -> None:
        super().__init__(name="drill-writer", daemon=True)
        self.run_id = run_id
        self.interval_s = 1.0 / rate_hz
        self.stop = threading.Event()
        self.acked: list[tuple[int, float]] = []
        self.attempts = 0
        self.errors = 0

    def run(self) -> None:
        seq = 0
        next_at = time.monotonic()
        try:
            while not self.stop.is_set():
                self.attempts += 1
                try:
                    DrillWrite.objects.create(run_id=self.run_id, seq=seq)
                except DatabaseError:
                    # Not acknowledged: reconnect and send the same number again.
                    self.errors += 1
                    with contextlib.suppress(DatabaseError):
                        connections["default"].close()
                    time.sleep(0.01)
                    continue
                self.acked.append((seq, time.monotonic()))
                seq += 1
                next_at += self.interval_s
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    next_at = time.monotonic()
        finally:
            connections.close_all()


def drill_run(
    *,
    topology: Topology,
    unplanned: bool = False,
    rate_hz: float = 200.0,
    before_s: float = 2.0,
    after_s: float = 2.0,
    rebuild: bool = True,
    watch_interval_s: float = 0.5,
    watch_failures: int = 3,
) -> dict:
    states = probes.topology_state(topology)
    primary = next((s.region for s in states if s.is_primary), None)
    replica = next((s.region for s in states if s.is_replica), None)
    if primary is None or replica is None:
        raise services.FailoverRefused("the drill needs a running primary and replica (manage.py ha_up, or rebuild the replica)")
    run_id = uuid.uuid4().hex
    writer = DrillWriter(run_id=run_id, rate_hz=rate_hz)
    writer.start()
    time.sleep(before_s)
    started = time.monotonic()
    if unplanned:
        killed_at = time.time()
        pg_kill(topology.pg_node(primary))
        watcher = PrimaryWatcher(topology=topology, interval_s=watch_interval_s, failures=watch_failures, max_promotions=1)
        watcher.primary = primary
        deadline = time.monotonic() + 60
        while not watcher.events and time.monotonic() < deadline:
            watcher.step()
            time.sleep(watch_interval_s)
        if not watcher.events:
            writer.stop.set()
            raise services.FailoverFailed("the watcher did not promote the replica within 60 s")
        event = watcher.events[0]
        detected_s = round(event.started_at.timestamp() - killed_at, 3)
    else:
        event = services.failover_run(target_region=replica)
        detected_s = 0.0
    failover_s = time.monotonic() - started
    time.sleep(after_s)
    writer.stop.set()
    writer.join(30)

    with use_primary():
        counts = Counter(DrillWrite.objects.filter(run_id=run_id).values_list("seq", flat=True))
    acked = [seq for seq, _ in writer.acked]
    times = [t for _, t in writer.acked]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    steps = {s["name"]: s["seconds"] for s in event.steps}
    if unplanned:
        steps = {"detect": detected_s, **steps}
    result = {
        "mode": "unplanned" if unplanned else "planned",
        "write_unavailable_s": round(max(gaps, default=0.0), 3),
        "acknowledged_writes": len(acked),
        "lost_writes": sum(1 for seq in acked if counts[seq] == 0),
        "duplicate_writes": sum(n - 1 for n in counts.values() if n > 1),
        "steps": steps,
        "failover_total_s": round(failover_s, 3),
        "write_attempts": writer.attempts,
        "write_errors": writer.errors,
        "source_region": primary,
        "target_region": replica,
        "synchronous_commit": topology.synchronous_commit,
        "event_id": event.id,
        "watch": f"{watch_failures} probes x {watch_interval_s}s" if unplanned else None,
    }
    if rebuild:
        began = time.monotonic()
        rebuilt = services.node_rebuild(region=primary, topology=topology)
        result["rebuild_s"] = round(time.monotonic() - began, 3)
        result["rebuild_method"] = rebuilt.steps[0]["detail"]
    return result
