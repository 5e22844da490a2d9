"""The Redis channel layer the dashboard's websocket listens on."""


def test_redis_channel_layer_reads_outlast_its_blocking_pop():
    """redis-py 8's 5 s default socket timeout equals channels-redis's 5 s BZPOPMIN:
    without room between them every idle websocket dropped after about 6 s."""
    from channels_redis.core import RedisChannelLayer

    from tier0site.settings import base

    (host,) = base.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    assert host["socket_timeout"] > RedisChannelLayer.brpop_timeout
