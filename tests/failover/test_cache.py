"""Cache and channel layer through Sentinel keep working across a Redis master change."""

import asyncio
import logging
import time
import uuid

import pytest
from channels_redis.core import RedisChannelLayer
from django_redis.cache import RedisCache

from failover import sentinel
from failover.channel_layer import SentinelChannelLayer
from failover.nodes import SENTINEL_MASTER

pytestmark = [pytest.mark.ha]


def _sentinel_cache(ha):
    return RedisCache(
        f"redis://{SENTINEL_MASTER}/0",
        {
            "KEY_PREFIX": f"hatest{uuid.uuid4().hex[:8]}",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # As in the settings' HA block.
                "CONNECTION_FACTORY": "failover.redis_client.SentinelFollowingConnectionFactory",
                "CONNECTION_POOL_CLASS": "redis.sentinel.SentinelConnectionPool",
                "SENTINELS": [(s.host, s.port) for s in ha.sentinels],
                "SENTINEL_KWARGS": {"socket_timeout": 1},
                "SOCKET_TIMEOUT": 1,
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
    before = sentinel.redis_master_region(ha)
    target = next(r for r in ha.regions if r != before)
    redis_replica_synced()
    sentinel.redis_failover(topology=ha, target_region=target)
    assert sentinel.redis_master_region(ha) == target
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


def _blocked_in_bzpopmin(node) -> bool:
    return any(c.get("cmd") == "bzpopmin" for c in node.client().client_list())


@pytest.mark.parametrize("layer_class", [SentinelChannelLayer])
def test_a_websocket_receive_blocked_across_a_master_switch_goes_on(ha, healthy, redis_replica_synced, caplog, layer_class):
    """The old master answers blocked clients ``UNBLOCKED force unblock``: one warning, no traceback."""
    before = sentinel.redis_master_region(ha)
    target = next(r for r in ha.regions if r != before)
    layer = layer_class(
        hosts=[{"sentinels": [(s.host, s.port) for s in ha.sentinels], "master_name": SENTINEL_MASTER, "socket_timeout": 15}],
        prefix=f"hatest{uuid.uuid4().hex[:8]}",
    )
    redis_replica_synced()

    async def scenario():
        channel = await layer.new_channel()
        receiver = asyncio.ensure_future(layer.receive(channel))
        deadline = time.monotonic() + 10
        while not await asyncio.to_thread(_blocked_in_bzpopmin, ha.redis_node(before)):
            assert time.monotonic() < deadline, "the receive never blocked on the master"
            await asyncio.sleep(0.02)
        await asyncio.to_thread(sentinel.redis_failover, topology=ha, target_region=target)
        await layer.send(channel, {"type": "failover.progress", "status": "after"})
        message = await asyncio.wait_for(receiver, 10)
        await layer.flush()
        await layer.close_pools()
        return message

    with caplog.at_level(logging.WARNING, logger="failover.channel_layer"):
        assert asyncio.run(scenario())["status"] == "after"
    assert [r.getMessage() for r in caplog.records if r.name == "failover.channel_layer"] == [
        "channel layer: Redis master demoted, receiving from the new master"
    ]
