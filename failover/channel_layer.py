"""The channel layer on Redis Sentinel: a master change pauses a receive instead of crashing it.

When Sentinel demotes a master, Redis answers every client blocked in
``BZPOPMIN`` with ``-UNBLOCKED force unblock from blocking operation, instance
state changed (master -> replica?)``. channels-redis 4.3 lets that
``ResponseError`` out of ``receive()``: the websocket consumer dies with a
traceback and the page's socket drops. Here it is one warning line: the pool's
connections are dropped (the next one asks Sentinel for the new master) and the
receive blocks again. Messages are not lost: channels-redis keeps each popped
message in a backup set until it is processed, and restores that set first.

Settings name this class by its dotted path in the Sentinel block only.
"""

from __future__ import annotations

import asyncio
import logging
import time

from channels_redis.core import RedisChannelLayer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

logger = logging.getLogger(__name__)

RETRY_PAUSE_S = 0.2  # Sentinel has named the new master by the time the old one is told
LOG_EVERY_S = 10.0  # one line per switch, not one per waiting websocket


class SentinelChannelLayer(RedisChannelLayer):
    last_logged = 0.0

    async def _brpop_with_clean(self, index, channel, timeout):
        try:
            return await super()._brpop_with_clean(index, channel, timeout)
        except ResponseError as exc:
            if not str(exc).startswith("UNBLOCKED"):
                raise
            reason = "master demoted"
        except RedisConnectionError:
            reason = "master unreachable"
        self._log_switch(reason)
        await self.connection(index).connection_pool.disconnect()
        await asyncio.sleep(RETRY_PAUSE_S)
        return None  # receive_single waits again, on the new master

    def _log_switch(self, reason: str) -> None:
        now = time.monotonic()
        if now - self.last_logged >= LOG_EVERY_S:
            self.last_logged = now
            logger.warning("channel layer: Redis %s, receiving from the new master", reason)
