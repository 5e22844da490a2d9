"""Tell the dashboard when alarms change (``tier0site.live.ALARMS``).

Each event carries what changed (counts raised, cleared, acknowledged) and the
active alarms per severity at send time (the page header shows them as they
are); the Alarms view re-reads /api/alarms. Events coalesce to one a second; one
held back by that interval is sent by a timer, so the header never stays stale
after the last batch of a burst.
"""

import threading

from django.db import connections

from tier0site import live


def _merge(pending: dict | None, item: dict) -> dict:
    pending = pending or {"raised": 0, "cleared": 0, "acknowledged": 0}
    return {key: pending[key] + item.get(key, 0) for key in pending}


def _render(pending: dict, _elapsed_s: float) -> dict:
    from alarms.selectors import active_by_severity

    return {**pending, "active": active_by_severity()}


class AlarmEvents:
    """One coalescing publisher per process, safe to report from several threads."""

    def __init__(self) -> None:
        self.publisher: live.Publisher | None = None
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None

    def report(self, outcome=None, *, cleared: int = 0, acknowledged: int = 0, force: bool = False) -> None:
        with self.lock:
            if self.publisher is None:
                self.publisher = live.Publisher(live.ALARMS, merge=_merge, render=_render)
            if outcome is not None and (outcome.raised or outcome.cleared):
                self.publisher.add({"raised": outcome.raised, "cleared": outcome.cleared})
            if cleared or acknowledged:
                self.publisher.add({"cleared": cleared, "acknowledged": acknowledged})
            self.publisher.flush(force=force)
            if self.publisher.pending is not None and (self.timer is None or not self.timer.is_alive()):
                self.timer = threading.Timer(self.publisher.interval_s, self._flush_late)
                self.timer.daemon = True
                self.timer.start()

    def _flush_late(self) -> None:
        try:
            with self.lock:
                self.publisher.flush(force=True)
        finally:
            connections.close_all()  # this timer thread's own connection (the counts query)


EVENTS = AlarmEvents()
