"""Cache and channel layer through Sentinel keep working across a Redis master change."""

import asyncio
import uuid

import pytest
from channels_redis.core import RedisChannelLayer
from django_redis.cache import RedisCache
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from failover import selectors, services
from failover.redis_client import SentinelFollowingConnection
from failover.topology import SENTINEL_MASTER

pytestmark = [pytest.mark.ha]


def _sentinel_cache(ha):
    return RedisCache(
        f"redis://{SENTINEL_MASTER}/0",
        {
            "KEY_PREFIX": f"hatest{uuid.uuid4().hex[:8]}",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.SentinelClient",
                "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
                "CONNECTION_POOL_CLASS": "redis.sentinel.SentinelConnectionPool",
                "SENTINELS": [(s.host, s.port) for s in ha.sentinels],
                "SENTINEL_KWARGS": {"socket_timeout": 1},
                "SOCKET_TIMEOUT": 1,
                # As in the settings' HA block.
                "CONNECTION_POOL_KWARGS": {
                    "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), 6),
                    "connection_class": SentinelFollowingConnection,
                },
            },
        },
    )


def test_cache_and_channel_layer_survive_a_sentinel_failover(ha, healthy, redis_replica_synced):
    cache = _sentinel_cache(ha)
    layer = RedisChannelLayer(
        hosts=[{"sentinels": [(s.host, s.port) for s in ha.sentinels], "master_name": SENTINEL_MASTER}],
        prefix=f"hatest{uuid.uuid4().hex[:8]}",
    )
    cache.set("kept", "before", 60)
    before = selectors.redis_master_region(ha)
    target = next(r for r in ha.regions if r != before)
    redis_replica_synced()
    services.redis_failover(topology=ha, target_region=target)
    assert selectors.redis_master_region(ha) == target
    # Same cache object, no restart: the value replicated, and writes reach the new master.
    assert cache.get("kept") == "before"
    cache.set("kept", "after", 60)
    assert cache.get("kept") == "after"
    assert ha.redis_node(target).client().info("replication")["role"] == "master"

    async def round_trip():
        channel = await layer.new_channel()
        await layer.group_add("failover", channel)
        await layer.group_send("failover", {"type": "failover.progress", "status": "ok"})
        message = await asyncio.wait_for(layer.receive(channel), 5)
        await layer.flush()
        await layer.close_pools()
        return message

    assert asyncio.run(round_trip())["status"] == "ok"
