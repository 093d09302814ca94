"""Times stored before they were checked are brought into the range, and pages read again.

On PostgreSQL a year-10000 time is storable but cannot be read into Python; on SQLite,
text that Django cannot parse back fails the same way. The migration works in SQL.
"""

from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from evalloop.chat import services
from evalloop.chat.models import Message, Session
from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory
from evalloop.lib.moments import EARLIEST, LATEST
from evalloop.teams.permissions import Role

# Migrating needs a connection outside the test's transaction on SQLite.
pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
# 9999-12-31T23:00:00-05:00 and 0001-01-01T01:00:00+05:00 in UTC, as each database holds them.
# SQLite's driver reads the five-digit year as NULL, silently; the year 0 makes Python raise.
LATE = {"postgresql": "10000-01-01 04:00:00+00", "sqlite": "10000-01-01 04:00:00"}
EARLY = {"postgresql": "0001-12-31 20:00:00+00 BC", "sqlite": "0000-12-31 20:00:00"}


def poison(model, pk, **columns):
    """Store raw values, as a database filled before times were checked may hold."""
    table = connection.ops.quote_name(model._meta.db_table)
    for column, value in columns.items():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {connection.ops.quote_name(column)} = %s WHERE id = %s",
                [value, pk],
            )


def migrate_again(app):
    call_command("migrate", app, "0001", verbosity=0)
    call_command("migrate", app, verbosity=0)


@pytest.fixture
def stored(cast):
    chatbot = ChatbotFactory(team=cast.team, slug="support")
    bad, good = (SessionFactory(chatbot=chatbot, created_at=T0) for _ in range(2))
    for session in (bad, good):
        services.add_message(session=session, role="human", content="hi", created_at=T0)
        services.add_message(session=session, role="ai", content="yo", created_at=T0)
        services.end_session(session=session, ended_at=T0)
    late, early = LATE[connection.vendor], EARLY[connection.vendor]
    poison(Session, bad.pk, created_at=early, last_message_at=late, ended_at=late)
    poison(Session, bad.pk, changed_at=late)
    first, second = bad.messages.order_by("pk")
    poison(Message, first.pk, created_at=early)
    poison(Message, second.pk, created_at=late)
    return bad, good


def pages(session):
    return [
        reverse("chat:session-list", kwargs={"slug": "support"}),
        reverse("chat:transcript", kwargs={"slug": "support", "pk": session.pk}),
    ]


def test_a_poisoned_time_breaks_the_pages_until_the_migration_clamps_it(cast, api, stored):
    bad, _ = stored
    client = Client(raise_request_exception=False)
    client.force_login(cast.viewer)
    # The list fails with a 500; on SQLite the transcript's lookup reads the error as a 404.
    assert [client.get(url).status_code >= 400 for url in pages(bad)] == [True, True]

    migrate_again("chat")

    assert [client.get(url).status_code for url in pages(bad)] == [200, 200]
    viewer = api(Role.VIEWER)
    assert viewer.get("/chatbots/support/sessions").status_code == 200
    assert viewer.get(f"/chatbots/support/sessions/{bad.external_id}").status_code == 200


def test_it_moves_each_time_to_the_nearer_end_and_leaves_good_ones_alone(stored):
    bad, good = stored
    migrate_again("chat")
    bad.refresh_from_db()
    assert (bad.created_at, bad.last_message_at, bad.ended_at, bad.changed_at) == (
        EARLIEST.replace(microsecond=0),
        LATEST,
        LATEST,
        LATEST,
    )
    assert list(bad.messages.order_by("pk").values_list("created_at", flat=True)) == [
        EARLIEST,
        LATEST,
    ]
    good.refresh_from_db()
    assert (good.created_at, good.last_message_at, good.ended_at) == (T0, T0, T0)
    assert set(good.messages.values_list("created_at", flat=True)) == {T0}
