"""Settings of the processes the browser tests start (web server, consumers).

The test settings, except that live events go through Redis under a prefix of
the test's own (so the consumer subprocesses and the web server share them) and
DEBUG is on so WhiteNoise serves static files straight from the source tree.
"""

from tier0site.settings.test import *  # noqa: F403
from tier0site.settings.test import REDIS_URL, env

DEBUG = True
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNEL_LAYER_PREFIX")},
    }
}
