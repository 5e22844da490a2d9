"""Settings of the processes the browser tests start (web server, consumers).

The test settings, except that live events go through Redis under a prefix of
the test's own (so the consumer subprocesses and the web server share them) and
DEBUG is on so WhiteNoise serves static files straight from the source tree.
"""

from tier0site.settings import base
from tier0site.settings.test import *  # noqa: F403
from tier0site.settings.test import LOGGING, env

DEBUG = True
# The project's Redis channel layer (base settings), under this test's own prefix.
CHANNEL_LAYERS = {"default": {**base.CHANNEL_LAYERS["default"]}}
CHANNEL_LAYERS["default"]["CONFIG"] = {**CHANNEL_LAYERS["default"]["CONFIG"], "prefix": env.str("CHANNEL_LAYER_PREFIX")}
# Reads must outlast channels-redis's 5 s blocking pop, through Sentinel too (see base.py).
CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [
    {**host, "socket_timeout": host.get("socket_timeout", 15)} if isinstance(host, dict) else host
    for host in CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
]
# Workers log that they are connected at INFO: the test waits for that line.
LOGGING["loggers"].update(
    {app: {"level": "INFO"} for app in ("telemetry", "sessions_app", "failover", "imaging", "logs", "rag", "tier0site")}
)
