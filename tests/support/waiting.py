"""Wait on a condition, never a fixed sleep."""

import time


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.1, message: str | None = None):
    """Return ``predicate()``'s first truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(message or f"condition not met within {timeout}s")
