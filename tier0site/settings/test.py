"""Settings for the test suite: real services, isolated names.

Each test run gets its own cache key prefix so parallel runs on one Redis never
see each other's keys; the channel layer is in-memory so consumer tests can
observe group messages inside the test process.
"""

import os

from .base import *  # noqa: F403
from .base import CACHES, LOGGING, env

CACHES["default"]["KEY_PREFIX"] = env.str("CACHE_KEY_PREFIX", f"tier0test{os.getpid()}")
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING["root"]["level"] = "WARNING"
# The test server subprocesses serve static files (Swagger UI, the dashboard's JS)
# from the apps' folders: the suite does not run collectstatic.
WHITENOISE_USE_FINDERS = True
