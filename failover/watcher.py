"""Unplanned failover: watch the primary, promote the replica after N failed probes.

A probe is a fresh connection plus ``SELECT 1`` with a short timeout. One failed
probe is noise; ``failures`` in a row (``interval_s`` apart) mean the primary is
dead, and the watcher runs the same ``failover_run`` as a planned failover in its
unplanned form: fence the dead node, replay what the replica received, promote,
fail Redis over, switch region, verify, record.
"""

from __future__ import annotations

import logging
import time

import psycopg
from prometheus_client import Counter

from failover import probes, services
from failover.nodes import Topology
from tier0site.workers import Backoff, Heartbeat, ShutdownFlag

logger = logging.getLogger(__name__)

PROBES = Counter("failover_watcher_probes_total", "Primary probes", ["result"])
PROMOTIONS = Counter("failover_watcher_promotions_total", "Replicas promoted by the watcher", ["result"])


class PrimaryWatcher:
    def __init__(
        self,
        *,
        topology: Topology,
        interval_s: float = 0.5,
        failures: int = 3,
        shutdown: ShutdownFlag | None = None,
        max_promotions: int | None = None,
        publish: bool = True,
    ) -> None:
        self.topology = topology
        self.interval_s = interval_s
        self.failures = failures
        self.shutdown = shutdown or ShutdownFlag()
        self.max_promotions = max_promotions
        self.publish = publish
        self.clock = time.monotonic  # tests may move time
        self.primary: str | None = None
        self.failed = 0
        self.events = []
        self.heartbeat = Heartbeat("failover_watcher", interval_s=max(interval_s, 1.0))

    def discover(self) -> str | None:
        for state in probes.topology_state(self.topology):
            if state.is_primary:
                return state.region
        return None

    def probe(self) -> bool:
        node = self.topology.pg_node(self.primary)
        try:
            with node.connect(timeout_s=2) as conn:
                ok = conn.execute("SELECT NOT pg_is_in_recovery()").fetchone()[0]
        except psycopg.Error:
            ok = False
        PROBES.labels("ok" if ok else "failed").inc()
        return ok

    def replica_for_promotion(self) -> str | None:
        for state in probes.topology_state(self.topology):
            if state.region != self.primary and state.is_replica:
                return state.region
        return None

    def step(self) -> None:
        """One probe (and, at the threshold, one promotion)."""
        if self.primary is None:
            self.primary = self.discover()
            if self.primary is None:
                logger.warning("no primary found; watching for one")
                return
            logger.info("watching primary", extra={"region": self.primary})
        if self.probe():
            self.failed = 0
            return
        self.failed += 1
        logger.warning("primary probe failed", extra={"region": self.primary, "failed": self.failed, "limit": self.failures})
        if self.failed < self.failures:
            return
        # Whatever happens next, count afresh: a refused attempt is retried only after
        # another full run of failed probes, not on every probe (one event each).
        self.failed = 0
        target = self.replica_for_promotion()
        if target is None:
            logger.error("primary is down and no healthy replica can take over", extra={"region": self.primary})
            return
        try:
            event = services.failover_run(target_region=target, unplanned=True, topology=self.topology, publish=self.publish)
        except services.FailoverError as exc:
            PROMOTIONS.labels("failed").inc()
            logger.error("unplanned failover failed", extra={"target": target, "error": str(exc)})
            return
        PROMOTIONS.labels("completed").inc()
        self.events.append(event)
        self.primary = target
        logger.info("unplanned failover completed", extra={"target": target, "total_s": event.total_s})

    def run(self) -> list:
        backoff = Backoff(first_s=self.interval_s, cap_s=max(self.interval_s, 5.0))
        try:
            while not self.shutdown.is_set:
                started = self.clock()
                self.step()
                self.heartbeat.beat(batches=len(self.events))
                if self.max_promotions is not None and len(self.events) >= self.max_promotions:
                    break
                # While nobody can be promoted, back off instead of hammering dead ports.
                delay = backoff.next_delay() if self.primary is None else self.interval_s
                if self.primary is not None:
                    backoff.reset()
                self.shutdown.wait(max(0.0, delay - (self.clock() - started)))
        finally:
            self.heartbeat.stop()
        return self.events
