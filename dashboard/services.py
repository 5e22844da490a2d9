"""Dashboard actions: SRE sign-in accounts (none is built in) and the demo user traffic."""

import logging
import subprocess
import sys
import threading
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from accounts.services import sre_staff_group

logger = logging.getLogger(__name__)


@transaction.atomic
def sre_user_create(*, username: str, password: str, staff: bool = True, update: bool = False):
    """Create (or, with ``update``, reset) an SRE sign-in account.

    Staff accounts may run staff-only actions such as a failover and get the
    "SRE staff" group's admin permissions; viewers see the dashboard only. Raises ``ValueError`` for an existing user without
    ``update`` and ``django.core.exceptions.ValidationError`` for a weak password.
    """
    model = get_user_model()
    user = model.objects.filter(username=username).first()
    if user is not None and not update:
        raise ValueError(f"user {username!r} exists already (use --update to reset the password)")
    if user is None:
        user = model(username=username)
    validate_password(password, user)
    user.set_password(password)
    user.is_staff = staff
    user.is_active = True
    user.save()
    group = sre_staff_group()
    (user.groups.add if staff else user.groups.remove)(group)
    return user


class TrafficAlreadyRunning(RuntimeError):
    pass


# One simulator at a time per web process: the button is a demo load, not a benchmark.
_traffic: subprocess.Popen | None = None
_traffic_lock = threading.Lock()


def user_traffic_start(*, users: int, messages: int, rate: float) -> dict:
    """Start the sessions pipeline's own simulator (``simulate_users``) as a child process.

    Its events go through RabbitMQ to the running ``run_rabbitmq_consumer``, which
    fills the ``SRE_User`` cache and publishes the live updates the page shows.
    """
    global _traffic
    with _traffic_lock:
        if _traffic is not None and _traffic.poll() is None:
            raise TrafficAlreadyRunning(f"A simulation is still running (pid {_traffic.pid}).")
        command = [
            sys.executable,
            str(Path(settings.BASE_DIR) / "manage.py"),
            "simulate_users",
            *("--users", str(users), "--count", str(messages), "--rate", str(rate)),
            *("--snapshot-interval", "2", "--queue", settings.SESSIONS_QUEUE),
        ]
        # Its own session: a page reload or a web worker's restart does not stop it half-way.
        _traffic = subprocess.Popen(  # noqa: S603 - fixed command, numbers validated by the API
            command, cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        logger.info("user traffic simulation started", extra={"pid": _traffic.pid, "users": users, "messages": messages})
        return {"pid": _traffic.pid, "users": users, "messages": messages, "rate": rate}


def user_traffic_wait(timeout_s: float) -> int | None:
    """Wait for the running simulation (tests); its exit code, or None if none ran."""
    with _traffic_lock:
        process = _traffic
    return None if process is None else process.wait(timeout=timeout_s)
