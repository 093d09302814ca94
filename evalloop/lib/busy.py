"""Tell a busy database from a broken one: busy is worth a retry, so it answers 503.

SQLite lets one writer in at a time; a writer that waits longer than the busy timeout
(evalloop/lib/env.py) gets "database is locked". PostgreSQL gives up on a lock after
`lock_timeout` (when one is set), picks a deadlock or serialization victim, or refuses a
connection past `max_connections`. All of these say "try again shortly", never "your
input is wrong", and the transaction that met them was rolled back whole.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from django.db import DatabaseError, connection

T = TypeVar("T")

# What a client is told to wait before retrying: long enough for a few short writes to
# pass, short enough that traffic is only delayed.
RETRY_AFTER_SECONDS = 2
MESSAGE = "The database is busy; nothing was written. Retry in a few seconds."

# Attempts, and the pause between them, of work retried in place (chunks of bulk work,
# background jobs): each attempt already waited the busy timeout.
ATTEMPTS = 3
PAUSE_SECONDS = 0.5

# Longer than the step of a writer waiting for the SQLite lock, so that it finds it free.
GIVE_WAY_SECONDS = 0.01

# Result codes (and their extended forms, e.g. SQLITE_BUSY_SNAPSHOT) and the messages
# Python's sqlite3 gives them.
_SQLITE_CODES = ("SQLITE_BUSY", "SQLITE_LOCKED")
_SQLITE_MESSAGES = ("database is locked", "database table is locked", "database schema is locked")
_POSTGRES_STATES = {
    "55P03",  # lock_not_available: lock_timeout ran out, or NOWAIT
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected: this transaction was the victim
    "53300",  # too_many_connections
    "57P03",  # cannot_connect_now: the server is starting or recovering
}


def is_busy(exc: BaseException) -> bool:
    """Answer whether `exc` (or what caused it) says the database is busy, not broken."""
    return any(_says_busy(error) for error in _chain(exc))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _says_busy(error: BaseException) -> bool:
    if isinstance(error, sqlite3.Error):
        name = getattr(error, "sqlite_errorname", "") or ""
        if name.startswith(_SQLITE_CODES):
            return True
        return str(error).strip().lower() in _SQLITE_MESSAGES
    # Django re-raises driver errors as its own, with the driver's as the cause; the
    # SQLite message is all that is left when the cause is missing.
    if isinstance(error, DatabaseError) and str(error).strip().lower() in _SQLITE_MESSAGES:
        return True
    return getattr(error, "sqlstate", None) in _POSTGRES_STATES


def bulk_step(work: Callable[[], T]) -> T:
    """Run one transaction of bulk work (`work`, retried while busy), then give way.

    On SQLite a writer waiting for the lock tries again every few milliseconds
    (evalloop/lib/sqlite/base.py): bulk work that began its next transaction at once would
    take the lock back before the waiter looked, so it pauses a little. When it had to wait
    itself, others are writing too: it then pauses three times as long as it held the lock,
    which leaves them three quarters of it (traffic comes first; bulk work can wait).
    PostgreSQL locks rows, not the database: there bulk work goes straight on.
    """
    if connection.in_atomic_block or connection.vendor != "sqlite":
        return retry_when_busy(work)
    waited_before = _seconds_waited()
    began = time.monotonic()
    result = retry_when_busy(work)
    waited = _seconds_waited() - waited_before
    held = time.monotonic() - began - waited
    time.sleep(max(GIVE_WAY_SECONDS, 3 * held) if waited else GIVE_WAY_SECONDS)
    return result


def _seconds_waited() -> float:
    return float(getattr(connection, "seconds_waited", 0.0))


def retry_after() -> str:
    """The `Retry-After` header value of a busy answer."""
    return str(RETRY_AFTER_SECONDS)


def retry_when_busy(work: Callable[[], T], *, attempts: int = ATTEMPTS) -> T:
    """Run `work` (one whole transaction) again while the database answers busy.

    Inside an outer transaction `work` runs once: a busy error has spoiled that
    transaction, and only its owner may try again.
    """
    if connection.in_atomic_block:
        return work()
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except DatabaseError as exc:
            if attempt == attempts or not is_busy(exc):
                raise
        time.sleep(PAUSE_SECONDS * attempt)
    raise AssertionError("unreachable")
