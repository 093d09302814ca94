"""Scratch stores for the benchmarks: never the developer's data dir or databases.

SQLite lives in a temporary data dir; PostgreSQL in a database created and dropped on the
server that BENCH_POSTGRES_URL names (default postgres://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def scratch_environment(db: str, name: str) -> Iterator[dict[str, str]]:
    """Answer environment variables that point evalloop at a scratch `db` ("sqlite"/"postgres")."""
    with tempfile.TemporaryDirectory(prefix="evalloop-bench-") as data_dir:
        os.makedirs(os.path.join(data_dir, "static"), exist_ok=True)
        env = {
            **os.environ,
            "EVALLOOP_DATA_DIR": data_dir,
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-secret-key-" * 3,
            "ALLOWED_HOSTS": "testserver",
            "LOG_LEVEL": "WARNING",
        }
        env.pop("DATABASE_URL", None)
        if db == "postgres":
            env["DATABASE_URL"] = scratch_database(name, create=True)
        try:
            yield env
        finally:
            if db == "postgres":
                scratch_database(name, create=False)


def scratch_database(name: str, *, create: bool) -> str:
    """Drop database `name` (and with `create`, make it anew); answer its URL."""
    import psycopg

    admin = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')
    return admin.rsplit("/", 1)[0] + "/" + name
