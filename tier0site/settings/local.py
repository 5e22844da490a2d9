"""Developer machine settings: the base defaults as they are."""

from .base import *  # noqa: F403
