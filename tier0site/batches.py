"""Storing a batch when one row in it is bad: find that row instead of retrying forever.

A batch is written in one statement; if PostgreSQL refuses it for its data
(SQLSTATE class 22 "data exception" or 23 "integrity constraint"), the items
are written again one by one, each in its own savepoint, and the ones refused
come back with the database's reason. Any other database error (connection
lost, server shutting down) propagates: the caller retries the whole batch.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import DatabaseError, DataError, IntegrityError, transaction

T = TypeVar("T")


def is_data_error(exc: DatabaseError) -> bool:
    """True when the rows are at fault, not the database."""
    if isinstance(exc, DataError | IntegrityError):
        return True
    sqlstate = getattr(getattr(exc, "__cause__", None), "sqlstate", None) or ""
    return sqlstate[:2] in {"22", "23"}


def store_isolating(
    items: list[T], store: Callable[[list[T]], Any], *, reason_prefix: str = "database refused: "
) -> tuple[list[Any], list[tuple[T, str]]]:
    """``store(items)`` in a savepoint; on a data error ``store([item])`` for each.

    Returns the results of the ``store`` calls that succeeded and the refused
    items with their reasons. Runs inside the caller's transaction.
    """
    try:
        with transaction.atomic():
            return [store(items)], []
    except DatabaseError as exc:
        if not is_data_error(exc):
            raise
    results, refused = [], []
    for item in items:
        try:
            with transaction.atomic():
                results.append(store([item]))
        except DatabaseError as exc:
            if not is_data_error(exc):
                raise
            refused.append((item, f"{reason_prefix}{exc}"[:2000]))
    return results, refused


# What a dead letter keeps of a refused message: enough to see what it was, not
# enough for a flood of huge junk to fill the disk.
DEAD_LETTER_KEEP_BYTES = 4096


@dataclass(frozen=True)
class Excerpt:
    head: bytes  # at most DEAD_LETTER_KEEP_BYTES
    size: int  # the whole payload's size
    sha256: str  # the whole payload's hash

    @property
    def truncated(self) -> bool:
        return self.size > len(self.head)


def excerpt(body: bytes) -> Excerpt:
    return Excerpt(body[:DEAD_LETTER_KEEP_BYTES], len(body), hashlib.sha256(body).hexdigest())
