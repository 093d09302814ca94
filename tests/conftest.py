"""Fixtures of the tests that run evalloop's own processes."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest


def _scratch_database(url: str, *, create: bool) -> None:
    import psycopg

    admin, name = url.rsplit("/", 1)
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def _empty_queues(url: str) -> None:
    """Drop what a server's worker left on the suite's Redis (ETA tasks come back unacked)."""
    import redis

    redis.Redis.from_url(url).delete("celery", "unacked", "unacked_index")


@pytest.fixture
def store() -> Iterator[dict[str, str]]:
    """The server's database and broker, following the suite's: never the suite's own.

    On PostgreSQL, a scratch database beside the suite's; with Redis, the suite's broker
    (emptied before and after) and a shared secret key.
    """
    database = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    overrides: dict[str, str] = {}
    if database.startswith("postgres"):
        overrides["DATABASE_URL"] = f"{database.rsplit('?', 1)[0]}_up"
        _scratch_database(overrides["DATABASE_URL"], create=True)
    if broker.startswith("redis"):
        overrides["CELERY_BROKER_URL"] = broker
        overrides["SECRET_KEY"] = secrets.token_urlsafe(50)
        _empty_queues(broker)
    yield overrides
    if "DATABASE_URL" in overrides:
        _scratch_database(overrides["DATABASE_URL"], create=False)
    if broker.startswith("redis"):
        _empty_queues(broker)
