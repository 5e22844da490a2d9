"""Database routing for the failover topology: writes to the primary, reads to the replica.

Active only when the HA settings block enables it (``HA_DATABASE_HOSTS``). The
``default`` alias lists every node with ``target_session_attrs=read-write``, so
libpq itself connects to whichever node is the primary now; the ``replica``
alias lists them with ``prefer-standby``. Neither names a fixed primary, so a
promotion made by anyone (this project's orchestrator, Patroni or a person)
is followed on the next connection.

Read-your-writes: once a request or task has written, its later reads go to the
primary too (a replica may not have replayed the write yet). The pin lives in a
context variable: each thread and each asyncio task has its own, and
``ReadYourWritesMiddleware`` clears it at the start and end of each request.
Long-running tasks call ``primary_pin_reset()`` between units of work.
"""

from __future__ import annotations

import contextlib
import contextvars

from django.db import connections

_pinned: contextvars.ContextVar[bool] = contextvars.ContextVar("tier0_db_pinned_to_primary", default=False)


def primary_pin() -> None:
    """Send this context's reads to the primary from now on."""
    _pinned.set(True)


def primary_pin_reset() -> None:
    _pinned.set(False)


def primary_is_pinned() -> bool:
    return _pinned.get()


@contextlib.contextmanager
def use_primary():
    """Read from the primary inside the block (e.g. right before a write that depends on it)."""
    token = _pinned.set(True)
    try:
        yield
    finally:
        _pinned.reset(token)


class PrimaryReplicaRouter:
    """Writes to ``primary_alias``; reads to ``replica_alias`` unless this context wrote."""

    def __init__(self, primary_alias: str = "default", replica_alias: str = "replica") -> None:
        self.primary_alias = primary_alias
        self.replica_alias = replica_alias

    def db_for_read(self, model, **hints):
        if _pinned.get():
            return self.primary_alias
        # Inside a transaction on the primary the reads belong to that transaction.
        if self.primary_alias in connections and connections[self.primary_alias].in_atomic_block:
            return self.primary_alias
        return self.replica_alias

    def db_for_write(self, model, **hints):
        _pinned.set(True)
        return self.primary_alias

    def allow_relation(self, obj1, obj2, **hints):
        # Both aliases are the same database (physical replication).
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == self.primary_alias


class ReadYourWritesMiddleware:
    """Start and end every request unpinned, so one request's write never pins the next."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _pinned.set(False)
        try:
            return self.get_response(request)
        finally:
            _pinned.reset(token)
