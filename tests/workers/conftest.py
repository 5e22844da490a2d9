"""The base's tests run the sessions pipeline: its queue and key fixtures."""

from tests.sessions.conftest import queue, sre_key  # noqa: F401 - fixtures
from tests.telemetry.conftest import consumer_process, topic_prefix  # noqa: F401 - fixtures
