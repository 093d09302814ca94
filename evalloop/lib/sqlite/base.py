"""Django's SQLite backend, with a writer that waits for the lock in short steps.

SQLite lets one writer in at a time. Its own busy handler sleeps longer and longer
between tries (up to 100 ms), so a short write queued behind bulk work keeps missing the
moments the lock is free and waits out the whole timeout. Here a statement that starts a
transaction (`BEGIN IMMEDIATE`, or a write in autocommit) tries again every few
milliseconds until the busy timeout (OPTIONS "timeout") has passed, then raises
"database is locked" as before. A statement that failed on the lock did nothing, so
trying it again is safe.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from django.db.backends.sqlite3 import base

from evalloop.lib import busy

# SQLite's own handler waits 1, 2 then 5 ms within this; then the loop below tries again.
STEP_SECONDS = 0.008


class PatientCursor(base.SQLiteCursorWrapper):
    database: DatabaseWrapper

    def execute(self, query: str, params: Any = None) -> Any:
        if self.connection.in_transaction:
            return super().execute(query, params)
        try:
            return super().execute(query, params)
        except sqlite3.OperationalError as exc:
            if not busy.is_busy(exc):
                raise
        return self._wait_for_lock(query, params)

    def _wait_for_lock(self, query: str, params: Any) -> Any:
        began = time.monotonic()
        try:
            while True:
                try:
                    return super().execute(query, params)
                except sqlite3.OperationalError as exc:
                    waited = time.monotonic() - began
                    if waited >= self.database.busy_timeout or not busy.is_busy(exc):
                        raise
        finally:
            self.database.seconds_waited += time.monotonic() - began

    # executemany runs each statement in a transaction of its own in autocommit: one
    # that failed half-way cannot be run again whole, so it keeps SQLite's handler alone.


class DatabaseWrapper(base.DatabaseWrapper):
    busy_timeout = 0.0
    # How long this connection's statements have waited for the lock, in all: bulk work
    # reads it to know whether it keeps other writers waiting (evalloop.lib.busy).
    seconds_waited = 0.0

    def get_connection_params(self) -> dict[str, Any]:
        params: dict[str, Any] = super().get_connection_params()
        self.busy_timeout = float(params.get("timeout", 5))
        params["timeout"] = min(STEP_SECONDS, self.busy_timeout)
        return params

    def create_cursor(self, name: str | None = None) -> PatientCursor:
        cursor = self.connection.cursor(factory=PatientCursor)
        cursor.database = self
        return cursor
