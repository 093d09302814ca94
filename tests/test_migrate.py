"""Every command brings the database up to date first: cheaply when there is nothing to do."""

from __future__ import annotations

import pytest

from evalloop.lib import migrate

pytestmark = pytest.mark.django_db


def test_an_up_to_date_database_is_read_not_migrated(monkeypatch, django_assert_max_num_queries):
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("migrate ran on a database with nothing to apply")

    monkeypatch.setattr(migrate, "call_command", refuse)
    with django_assert_max_num_queries(3):
        migrate.migrate()


def test_a_database_behind_its_migrations_is_migrated(monkeypatch):
    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(migrate, "pending", lambda: True)
    monkeypatch.setattr(migrate, "call_command", lambda *args, **kwargs: calls.append(args))
    migrate.migrate()
    assert calls == [("migrate",)]
