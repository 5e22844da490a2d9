"""A websocket lives only as long as the sign-in it was opened with.

The session middleware authenticates a socket once, at the handshake. This module
re-checks, every ``WS_AUTH_RECHECK_S`` (30 s; never more than 60), that the
session still exists, still belongs to that user, that the user is still active
and their password unchanged (Django's session auth hash), using Django's own
``get_user``; otherwise the socket is closed with 4401. So a logout, a
deactivation or a password change ends the live feed within that interval.
"""

import asyncio
import contextlib
import logging
from importlib import import_module
from types import SimpleNamespace

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user

logger = logging.getLogger(__name__)

CLOSE_SIGNED_OUT = 4401
MAX_RECHECK_S = 60.0


def _still_signed_in(session_key: str | None, user_pk) -> bool:
    if not session_key:
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    # get_user reads the session afresh: a deleted or expired session, an inactive
    # user or a changed password gives AnonymousUser.
    user = get_user(SimpleNamespace(session=store))
    return user.is_authenticated and user.pk == user_pk


async def still_signed_in(scope) -> bool:
    user, session = scope.get("user"), scope.get("session")
    if user is None or not user.is_authenticated or session is None:
        return False
    return await database_sync_to_async(_still_signed_in)(session.session_key, user.pk)


async def _watch(consumer, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            valid = await still_signed_in(consumer.scope)
        except Exception:  # a database hiccup must not end a valid socket
            logger.warning("websocket sign-in re-check failed; trying again next time", exc_info=True)
            continue
        if not valid:
            logger.info("websocket closed: its sign-in ended", extra={"user_id": getattr(consumer.scope.get("user"), "pk", None)})
            await consumer.close(code=CLOSE_SIGNED_OUT)
            return


def watch_start(consumer) -> asyncio.Task:
    """Start re-checking ``consumer``'s sign-in; call ``watch_stop`` on disconnect."""
    interval_s = min(float(getattr(settings, "WS_AUTH_RECHECK_S", 30.0)), MAX_RECHECK_S)
    return asyncio.get_running_loop().create_task(_watch(consumer, interval_s))


async def watch_stop(task: asyncio.Task | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
