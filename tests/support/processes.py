"""Child processes a test starts: a free loopback port, and an environment that points at this test's services."""

import os
import subprocess
import urllib.request
from collections.abc import Callable

from django.conf import settings
from django.db import connection

from devtools.broker import free_port  # the tooling's one copy: it launches brokers on free ports too
from tests.support.waiting import wait_until

__all__ = ["database_url", "free_port", "subprocess_env", "wait_for_http"]


def database_url(name: str | None = None) -> str:
    """This test's database (or ``name`` on the same server) as a DATABASE_URL."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name or db['NAME']}"


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment plus test settings, this test's database and this run's cache namespace; ``extra`` wins."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tier0site.settings.test",
        "DATABASE_URL": database_url(),
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        **extra,
    }


def wait_for_http(url: str, process: subprocess.Popen, *, timeout: float = 30, log: Callable[[], str] = str) -> None:
    """Wait until ``url`` answers 2xx/3xx while ``process`` (the server) keeps running; fail with ``log()`` if not."""

    def answers() -> bool:
        assert process.poll() is None, f"the server exited with {process.returncode}"
        try:
            urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 - a loopback http URL the test built
        except OSError:
            return False
        return True

    try:
        wait_until(answers, timeout, 0.1)
    except AssertionError as exc:
        raise AssertionError(f"{url} did not answer ({exc}):\n{log()}") from None
