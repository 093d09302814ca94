"""A busy database is told from a broken one, on both engines, so it answers 503."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from django.db import OperationalError, ProgrammingError, transaction

from evalloop.lib import busy


def locked_sqlite_error(tmp_path) -> sqlite3.OperationalError:
    path = tmp_path / "busy.sqlite3"
    holder = sqlite3.connect(path, timeout=0, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError) as caught:
            waiter.execute("BEGIN IMMEDIATE")
    finally:
        waiter.close()
        holder.close()
    return caught.value


def wrapped(cause: BaseException) -> OperationalError:
    """The error as Django raises it: its own class, the driver's error as the cause."""
    error = OperationalError(*cause.args)
    error.__cause__ = cause
    return error


def test_a_sqlite_writer_that_waited_too_long_is_busy(tmp_path):
    error = locked_sqlite_error(tmp_path)
    assert str(error) == "database is locked"
    assert busy.is_busy(error)
    assert busy.is_busy(wrapped(error))


def test_a_locked_shared_cache_table_is_busy():
    assert busy.is_busy(wrapped(sqlite3.OperationalError("database table is locked")))


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.SerializationFailure("could not serialize access"),
        psycopg.errors.TooManyConnections("sorry, too many clients already"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
    ],
)
def test_postgresql_lock_and_capacity_errors_are_busy(error):
    assert busy.is_busy(wrapped(error))


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("no such table: chat_session"),
        wrapped(sqlite3.OperationalError("disk I/O error")),
        wrapped(psycopg.errors.QueryCanceled("canceling statement due to statement timeout")),
        wrapped(psycopg.errors.UndefinedTable('relation "x" does not exist')),
        ProgrammingError("syntax error"),
        ValueError("database is locked"),
    ],
)
def test_a_broken_database_or_a_slow_query_is_not_busy(error):
    assert not busy.is_busy(error)


def test_retrying_runs_busy_work_again_until_it_passes(monkeypatch):
    monkeypatch.setattr(busy, "PAUSE_SECONDS", 0)
    calls = []

    def work() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise wrapped(sqlite3.OperationalError("database is locked"))
        return "done"

    assert busy.retry_when_busy(work) == "done"
    assert len(calls) == 3


def test_retrying_gives_up_after_its_attempts_and_on_other_errors(monkeypatch):
    monkeypatch.setattr(busy, "PAUSE_SECONDS", 0)

    def locked() -> None:
        raise wrapped(sqlite3.OperationalError("database is locked"))

    with pytest.raises(OperationalError):
        busy.retry_when_busy(locked, attempts=2)
    calls = []

    def broken() -> None:
        calls.append(1)
        raise OperationalError("no such table: x")

    with pytest.raises(OperationalError):
        busy.retry_when_busy(broken)
    assert len(calls) == 1


@pytest.mark.django_db
def test_inside_a_transaction_busy_work_runs_once_for_its_owner_to_retry():
    calls = []

    def locked() -> None:
        calls.append(1)
        raise wrapped(sqlite3.OperationalError("database is locked"))

    with transaction.atomic(), pytest.raises(OperationalError):
        busy.retry_when_busy(locked)
    assert len(calls) == 1


@pytest.mark.django_db(transaction=True)  # bulk work runs outside any transaction
def test_bulk_work_gives_way_longer_when_it_had_to_wait_for_the_lock(monkeypatch):
    from django.db import connection

    clock = [0.0]
    pauses: list[float] = []
    monkeypatch.setattr(busy.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(busy.time, "sleep", pauses.append)
    monkeypatch.setattr(connection, "seconds_waited", 0.0, raising=False)

    def work(*, waited: float) -> None:
        connection.seconds_waited += waited
        clock[0] += waited + 0.1  # then it holds the lock for 0.1 s

    busy.bulk_step(lambda: work(waited=0))
    busy.bulk_step(lambda: work(waited=0.3))
    if connection.vendor != "sqlite":
        assert pauses == []  # PostgreSQL locks rows: bulk work goes straight on
    else:
        assert pauses == [busy.GIVE_WAY_SECONDS, pytest.approx(0.3)]  # three times its hold
