"""Live events for the dashboard: the one list of groups and event types, one publisher.

Every pipeline that tells the page something publishes through ``Publisher``
to one of the ``EVENTS`` below; the websocket consumer
(``dashboard/consumers.py``) joins exactly these groups and relays exactly these
types, and a test checks the page's scripts handle the same list. Adding an
event means adding it here, and nowhere else on the server side.

``Publisher`` coalesces: pipelines ``add`` what happened as often as they like
and at most one event per ``interval_s`` (about a second) goes out, merged.
Sending never stops the caller: the channel layer may live on a Redis that is
away (or failing over), so each send has a short timeout and failures are logged.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveEvent:
    group: str  # the channel-layer group
    type: str  # the event's "type" ("a.b" is dispatched to the consumer's a_b handler)

    @property
    def handler(self) -> str:
        return self.type.replace(".", "_")


TELEMETRY = LiveEvent("telemetry", "telemetry.update")
SESSIONS = LiveEvent("sessions", "sessions.update")
FAILOVER = LiveEvent("failover", "failover.progress")
IMAGES = LiveEvent("images", "images.update")
ALARMS = LiveEvent("alarms", "alarms.update")  # alarms raised, cleared or acknowledged (counts)

EVENTS: tuple[LiveEvent, ...] = (TELEMETRY, SESSIONS, FAILOVER, IMAGES, ALARMS)
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(event.group for event in EVENTS))


def _replace(_pending: Any, item: Any) -> Any:
    return item


def tally(pending: dict | None, item: dict) -> dict:
    """A merge for counts: numbers add up, sets and dicts are joined, anything else keeps the newest."""
    if pending is None:
        return {key: value.copy() if isinstance(value, set | dict) else value for key, value in item.items()}
    for key, value in item.items():
        old = pending.get(key)
        if isinstance(value, int | float) and isinstance(old, int | float):
            pending[key] = old + value
        elif isinstance(value, set | dict) and isinstance(old, set | dict):
            old.update(value)
        else:
            pending[key] = value.copy() if isinstance(value, set | dict) else value
    return pending


class Publisher:
    """Coalesces what a pipeline reports into at most one event per ``interval_s``.

    - ``merge(pending, item)`` folds an ``add``-ed item into what is pending
      (``pending`` is None at first); the default keeps the newest item.
    - ``render(pending, elapsed_s)`` turns what is pending into the event's
      fields; the default sends the pending dict as it is.
    - ``interval_s`` 0 or less, or ``enabled=False``, turns publishing off.
    """

    def __init__(
        self,
        event: LiveEvent,
        *,
        interval_s: float = 1.0,
        merge: Callable[[Any, Any], Any] = _replace,
        render: Callable[[Any, float], dict] | None = None,
        enabled: bool = True,
        timeout_s: float = 1.0,
        background: bool = False,
    ) -> None:
        self.event = event
        self.interval_s = interval_s
        self.merge = merge
        self.render = render or (lambda pending, _elapsed: dict(pending))
        self.enabled = enabled and interval_s > 0
        self.timeout_s = timeout_s
        self.pending: Any = None
        self.started = time.monotonic()
        self.last_sent: float | None = None  # the first event goes out at once
        self.sent = 0
        # A worker's ingest thread must not wait on Redis round trips: it renders and sends from a thread of its own.
        self.sender = ThreadPoolExecutor(1, thread_name_prefix=f"live-{event.group}") if background else None

    def add(self, item: Any) -> None:
        if self.enabled:
            self.pending = self.merge(self.pending, item)

    def flush(self, *, force: bool = False) -> bool:
        """Send what is pending if an interval has passed (or ``force``); True if sent."""
        if self.pending is None:
            return False
        now = time.monotonic()
        elapsed = now - (self.started if self.last_sent is None else self.last_sent)
        if not force and self.last_sent is not None and elapsed < self.interval_s:
            return False
        pending, self.pending, self.last_sent = self.pending, None, now
        if self.sender is not None:
            self.sender.submit(self._send, pending, elapsed)
            return True
        return self._send(pending, elapsed)

    def close(self) -> None:
        """Wait for what is being sent (background publishers)."""
        if self.sender is not None:
            self.sender.shutdown(wait=True)

    def _send(self, pending: Any, elapsed: float) -> bool:
        layer = get_channel_layer()
        if layer is None:
            return False

        async def send(message):
            await asyncio.wait_for(layer.group_send(self.event.group, message), self.timeout_s)

        try:
            async_to_sync(send)({**self.render(pending, elapsed), "type": self.event.type})
        except Exception:  # the dashboard is optional; the pipeline must go on
            logger.warning("live event not published", extra={"event": self.event.type}, exc_info=True)
            return False
        self.sent += 1
        return True


def rate_per_s(count: int, elapsed_s: float) -> float | None:
    """Messages per second over an interval, as the page shows it."""
    return round(count / elapsed_s, 1) if elapsed_s else None
