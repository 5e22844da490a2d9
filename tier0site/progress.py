"""Progress for long jobs: a bar on a terminal, periodic counts in logs."""

import logging
import sys
import time

from tqdm import tqdm

logger = logging.getLogger("tier0.progress")


class Progress:
    """Call with the running total; closes with a final count.

    On a terminal this draws a tqdm bar; under a process manager (no TTY) it
    logs ``label: done/total (rate/s)`` every ``every_s`` seconds instead.
    """

    def __init__(self, label: str, total: int | None = None, *, every_s: float = 5.0, unit: str = "msg") -> None:
        self.label, self.total, self.every_s = label, total, every_s
        self.started = self.last_log = time.monotonic()
        self.done = 0
        self.bar = tqdm(total=total, desc=label, unit=unit, file=sys.stderr) if sys.stderr.isatty() else None

    def __call__(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done - self.done)
        self.done = done
        now = time.monotonic()
        if self.bar is None and now - self.last_log >= self.every_s:
            self.last_log = now
            self._log()

    def _log(self) -> None:
        elapsed = time.monotonic() - self.started
        logger.info(
            "%s: %d%s (%.0f/s)",
            self.label,
            self.done,
            f"/{self.total}" if self.total else "",
            self.done / elapsed if elapsed else 0,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self._log()
