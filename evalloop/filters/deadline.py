"""A time limit on the queries a filter runs, so that no filter holds a web worker.

Filters are written by users and run over a team's whole history, so one can be slow for
reasons no check can see in advance (a word that appears nowhere, no time clause, a million
sessions). Wrap the evaluation of a filtered queryset in `filter_time_limit()`: past
`EVALLOOP_FILTER_TIMEOUT_SECONDS` the query is stopped and FilterTimeout raised, which reads
like any other filter error. PostgreSQL stops it with a statement timeout; SQLite with a
progress handler, which it calls every few thousand steps of a query.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction

from evalloop.filters.language import FilterError, top_error

QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement stopped by its timeout
SQLITE_STEPS = 5_000  # steps between two looks at the clock: about a millisecond of work


class FilterTimeout(FilterError):
    """A filter whose query ran past the time limit."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        unit = "second" if seconds == 1 else "seconds"
        super().__init__(
            [
                top_error(
                    f"the filter took longer than {seconds:g} {unit} to run, so it was "
                    "stopped; narrow it, for example with a time clause such as "
                    "created_at within_last 7d"
                )
            ]
        )


@contextmanager
def filter_time_limit(
    seconds: float | None = None, *, using: str = DEFAULT_DB_ALIAS
) -> Iterator[None]:
    """Stop the queries run inside after `seconds` (the setting by default): FilterTimeout."""
    limit = settings.EVALLOOP_FILTER_TIMEOUT_SECONDS if seconds is None else seconds
    connection = connections[using]
    stopper = _statement_timeout if connection.vendor == "postgresql" else _progress_deadline
    stopped: list[bool] = []
    try:
        with stopper(connection, limit, stopped):
            yield
    except OperationalError as exc:
        if stopped or getattr(exc.__cause__, "sqlstate", None) == QUERY_CANCELED:
            raise FilterTimeout(limit) from None
        raise


@contextmanager
def _statement_timeout(connection: Any, seconds: float, stopped: list[bool]) -> Iterator[None]:
    # SET LOCAL lasts until the transaction ends, and an error rolls it back with the
    # transaction (or savepoint); inside an outer transaction, the old value is put back.
    milliseconds = str(max(1, round(seconds * 1000)))
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('statement_timeout'), "
            "set_config('statement_timeout', %s, true)",
            [milliseconds],
        )
        previous = cursor.fetchone()[0]
        yield
        if connection.savepoint_ids:  # ours is a savepoint in someone else's transaction
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])


@contextmanager
def _progress_deadline(connection: Any, seconds: float, stopped: list[bool]) -> Iterator[None]:
    # No transaction here: on SQLite every transaction takes the write lock.
    deadline = time.monotonic() + seconds

    def past_deadline() -> bool:
        if time.monotonic() > deadline:
            stopped.append(True)
            return True
        return False

    connection.ensure_connection()
    raw = connection.connection
    raw.set_progress_handler(past_deadline, SQLITE_STEPS)
    try:
        yield
    finally:
        raw.set_progress_handler(None, SQLITE_STEPS)
