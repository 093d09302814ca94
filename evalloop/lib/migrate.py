"""Bring the database up to date, one process at a time."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# Any fixed number: PostgreSQL advisory locks are named by integers.
_ADVISORY_LOCK = 7_405_112


@contextmanager
def _one_at_a_time() -> Iterator[None]:
    """Hold a lock that every evalloop process starting at once on this database shares.

    Without it, a web server and several workers started together on a fresh database would
    each try to create the same tables.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [_ADVISORY_LOCK])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_ADVISORY_LOCK])
    else:  # SQLite lives on this machine, so a file lock beside it is enough.
        with open(settings.DATA_DIR / "migrate.lock", "ab") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)  # released when the file closes
            yield


def pending() -> bool:
    """Answer whether any migration is still to be applied to this database."""
    executor = MigrationExecutor(connection)
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def migrate() -> None:
    """Apply every pending migration, quietly; a database already up to date costs one read.

    Every command starts here, so it must be cheap when there is nothing to do: Django's own
    `migrate` would also run its post-migrate handlers, which read and write a database that
    a running worker may be busy with.
    """
    if not pending():
        return
    with _one_at_a_time():
        call_command("migrate", interactive=False, verbosity=0)
