"""The idle sweep as a process of its own (``sweep_idle_sessions --loop``, the Procfile's ``sweeper``)."""

import logging

from django.db import DatabaseError
from prometheus_client import Counter
from redis.exceptions import RedisError

from sessions_app.services import sessions_sweep
from tier0site.workers import Heartbeat, reset_db_connection

logger = logging.getLogger(__name__)

IDLE_MARKED = Counter("tier0_sessions_idle_marked_total", "Sessions the sweep marked idle")


class Sweeper:
    def __init__(self, *, idle_after_s: int | None = None, interval_s: float = 30.0) -> None:
        self.idle_after_s = idle_after_s
        # It beats once per sweep, so its beat lives three sweep intervals.
        self.heartbeat = Heartbeat("sweeper", interval_s=interval_s)
        self.marked = self.sweeps = 0

    def step(self) -> None:
        """One sweep; a database or Redis outage is logged and the next sweep tries again."""
        try:
            marked = sessions_sweep(idle_after_s=self.idle_after_s)
        except (DatabaseError, RedisError) as exc:
            reset_db_connection()
            logger.warning("idle sweep failed; will retry", extra={"error": str(exc)[:200]})
            return
        self.sweeps += 1
        self.marked += marked
        IDLE_MARKED.inc(marked)
        if marked:
            logger.info("sessions marked idle", extra={"count": marked})
        self.heartbeat.beat(force=True, messages_stored=self.marked, batches=self.sweeps)
