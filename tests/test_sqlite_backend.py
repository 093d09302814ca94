"""SQLite as evalloop runs it: a writer waits for the lock in short steps, up to the timeout."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from django.db import OperationalError
from django.db.utils import ConnectionHandler

from evalloop.lib import busy
from evalloop.lib.env import sqlite_database


@pytest.fixture
def database(tmp_path, django_db_blocker, monkeypatch):
    """Answer a Django connection to a file database of its own, and a raw one to hold its lock."""
    # The browser tests' session leaves Playwright's event loop in this thread; this
    # connection is this test's alone, used from this thread only.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings = sqlite_database(tmp_path / "db.sqlite3")
    django_connection = ConnectionHandler({"default": settings})["default"]
    with django_db_blocker.unblock():  # not the suite's database: one of this test's own
        with django_connection.cursor() as cursor:
            cursor.execute("CREATE TABLE t (x integer)")
        holder = sqlite3.connect(
            tmp_path / "db.sqlite3", isolation_level=None, check_same_thread=False
        )
        yield django_connection, holder
        holder.close()
        django_connection.close()


def hold_lock(holder: sqlite3.Connection, seconds: float) -> threading.Thread:
    holder.execute("BEGIN IMMEDIATE")

    def release() -> None:
        time.sleep(seconds)
        holder.execute("COMMIT")

    thread = threading.Thread(target=release)
    thread.start()
    return thread


def test_it_runs_in_wal_mode_and_begins_transactions_immediate(database):
    connection, _ = database
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
    assert connection.transaction_mode == "IMMEDIATE"


def test_a_transaction_waits_for_a_short_writer_then_goes_in(database):
    connection, holder = database
    releaser = hold_lock(holder, 0.3)
    began = time.monotonic()
    with connection.cursor() as cursor:
        connection.set_autocommit(False)
        cursor.execute("INSERT INTO t VALUES (1)")
        connection.commit()
        connection.set_autocommit(True)
    releaser.join()
    assert 0.25 < time.monotonic() - began < 1
    assert connection.seconds_waited > 0.2


def test_a_write_in_autocommit_waits_too(database):
    connection, holder = database
    releaser = hold_lock(holder, 0.3)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO t VALUES (1)")
    releaser.join()
    assert connection.seconds_waited > 0.2


def test_past_the_busy_timeout_it_is_a_busy_error(database):
    connection, holder = database
    connection.busy_timeout = 0.2
    releaser = hold_lock(holder, 0.6)
    with pytest.raises(OperationalError) as caught, connection.cursor() as cursor:
        cursor.execute("INSERT INTO t VALUES (1)")
    releaser.join()
    assert busy.is_busy(caught.value)
