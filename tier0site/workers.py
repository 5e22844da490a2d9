"""What every long-running worker shares: clean shutdown, metrics, backoff.

A worker (MQTT consumer, RabbitMQ consumer, watchers) installs one
``ShutdownFlag`` for SIGTERM and SIGINT, finishes the batch in hand when it is
raised, and exports its counters on a Prometheus port of its own.
"""

import logging
import signal
import threading

from django.conf import settings
from prometheus_client import start_http_server

logger = logging.getLogger(__name__)


class ShutdownFlag:
    """Set by SIGTERM/SIGINT; workers poll it between batches."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def install(self) -> "ShutdownFlag":
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._handle)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, _frame) -> None:
        logger.info("shutdown requested", extra={"signal": signal.Signals(signum).name})
        self._event.set()

    def set(self) -> None:
        self._event.set()

    @property
    def event(self) -> threading.Event:
        """The underlying event, for code that takes a plain ``threading.Event``."""
        return self._event

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)


def serve_metrics(port: int | None) -> None:
    """Expose this process's Prometheus counters on ``port`` (0 or None: off)."""
    if port:
        start_http_server(port, addr=settings.METRICS_ADDR)
        logger.info("metrics listening", extra={"port": port})


class Backoff:
    """Bounded exponential backoff: 0.5 s doubling up to ``cap_s``."""

    def __init__(self, *, first_s: float = 0.5, cap_s: float = 10.0) -> None:
        self.first_s = first_s
        self.cap_s = cap_s
        self.next_s = first_s

    def next_delay(self) -> float:
        delay = self.next_s
        self.next_s = min(self.next_s * 2, self.cap_s)
        return delay

    def reset(self) -> None:
        self.next_s = self.first_s
