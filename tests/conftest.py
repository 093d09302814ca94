"""Fixtures of the tests that run evalloop's own processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.processes import suite_store


@pytest.fixture
def store() -> Iterator[dict[str, str]]:
    """The server's database and broker, following the suite's: never the suite's own.

    On PostgreSQL, a scratch database beside the suite's; with Redis, the suite's broker
    (emptied before and after) and a shared secret key (`tests.processes.suite_store`).
    """
    with suite_store("up") as overrides:
        yield overrides
