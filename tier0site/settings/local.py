"""Developer machine settings: the base defaults as they are.

DEBUG stays off unless the developer sets DJANGO_DEBUG=1; `make run` runs
collectstatic, so WhiteNoise serves the static files either way.
"""

from .base import *  # noqa: F403
