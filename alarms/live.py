"""Tell the dashboard when alarms change (``tier0site.live.ALARMS``): counts only, the page re-reads /api/alarms."""

from tier0site import live


def _merge(pending: dict | None, item: dict) -> dict:
    pending = pending or {"raised": 0, "cleared": 0, "acknowledged": 0}
    return {key: pending[key] + item.get(key, 0) for key in pending}


class AlarmEvents:
    """One coalescing publisher per process; ``flush`` is called on every batch, so a pending event leaves within a batch."""

    def __init__(self) -> None:
        self.publisher: live.Publisher | None = None

    def report(self, outcome=None, *, acknowledged: int = 0, force: bool = False) -> None:
        if self.publisher is None:
            self.publisher = live.Publisher(live.ALARMS, merge=_merge)
        if outcome is not None and (outcome.raised or outcome.cleared):
            self.publisher.add({"raised": outcome.raised, "cleared": outcome.cleared})
        if acknowledged:
            self.publisher.add({"acknowledged": acknowledged})
        self.publisher.flush(force=force)


EVENTS = AlarmEvents()
