"""Crash-loop protection: how often a message came back, counted by its hash.

A message that kills the consumer (whatever the validators catch, a crash is
always possible: a C extension, the interpreter's own stack) is not
acknowledged, so the broker hands it out again, flagged as a redelivery (MQTT's
dup flag, AMQP's ``redelivered``). Redelivered messages are counted here before
they are handled and forgotten once stored:

- never counted before (back after an ordinary stop or kill): replayed as one
  batch, all counted once, so a restart after a SIGKILL at full rate is quick;
- counted before (they were in hand when a replay crashed): replayed one at a
  time, each counted just before it is handled. Only the culprit's count then
  grows, and once it has been delivered more than ``WORKER_MAX_DELIVERIES``
  times (3) it is dead-lettered unread while its neighbours are stored.

Counts live in Redis (the cache) for a day. Without Redis a redelivered message
counts as delivered twice: replayed alone, never dead-lettered for its count.
"""

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache
from django_redis import get_redis_connection

logger = logging.getLogger(__name__)

TTL_S = 24 * 3600


class DeliveryCounts:
    """Redeliveries per message hash, in Redis, for one kind of worker (shared by its processes)."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self.limit = settings.WORKER_MAX_DELIVERIES

    def _key(self, body: bytes) -> str:
        return cache.make_key(f"workers:deliveries:{self.worker}:{hashlib.sha256(body).hexdigest()}")

    def counted(self, bodies: list[bytes]) -> list[int]:
        """How often each body was counted already (0: never, or Redis is away)."""
        try:
            values = get_redis_connection("default").mget([self._key(body) for body in bodies])
        except Exception:  # Redis away: nothing is counted, nothing dead-lettered for its count
            logger.warning("redelivery counts not read", extra={"worker": self.worker}, exc_info=True)
            return [0] * len(bodies)
        return [int(value or 0) for value in values]

    def count(self, bodies: list[bytes]) -> list[int]:
        """Count one more redelivery of each body; returns how often each has been delivered in all."""
        try:
            pipe = get_redis_connection("default").pipeline(transaction=False)
            for body in bodies:
                pipe.incr(self._key(body))
                pipe.expire(self._key(body), TTL_S)
            redeliveries = pipe.execute()[::2]
        except Exception:  # Redis away: counted as a first redelivery
            logger.warning("redeliveries not counted", extra={"worker": self.worker}, exc_info=True)
            redeliveries = [1] * len(bodies)
        return [n + 1 for n in redeliveries]  # the first delivery was not a redelivery: never counted

    def forget(self, bodies: list[bytes]) -> None:
        try:
            get_redis_connection("default").delete(*[self._key(body) for body in bodies])
        except Exception:  # noqa: BLE001 - they expire by themselves
            logger.warning("redelivery counts not cleared", extra={"worker": self.worker})

    def too_many(self, deliveries: int) -> bool:
        return deliveries > self.limit
