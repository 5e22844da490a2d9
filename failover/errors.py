"""Failover errors: the message is meant for the operator."""

from __future__ import annotations


class FailoverError(Exception):
    """Base; ``event`` is the recorded attempt (a ``FailoverEvent``) when there is one."""

    status_code = 500

    def __init__(self, message: str, *, event=None) -> None:
        super().__init__(message)
        self.event = event


class FailoverRefused(FailoverError):
    """Refused before anything changed (unhealthy or lagging target, failover running...)."""

    status_code = 409


class FailoverFailed(FailoverError):
    """Something failed mid-way; the event's steps say where."""
