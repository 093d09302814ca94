"""Keyset paging walks a list once, in order, whatever is added meanwhile."""

import base64
import json
from datetime import UTC, datetime

import pytest

from evalloop.chat.models import Session
from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory
from evalloop.lib import keyset

NEWEST_FIRST = ("-created_at", "-pk")
AT = datetime(2026, 5, 1, 12, tzinfo=UTC)


def walk(queryset, order, limit):
    seen, cursor = [], None
    while True:
        items, cursor = keyset.page(queryset, order=order, limit=limit, cursor=cursor)
        seen += [item.external_id for item in items]
        if cursor is None:
            return seen


def cursor_of(values):
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.fixture
def sessions(db):
    chatbot = ChatbotFactory()
    # Two sessions share each time: the id breaks the tie.
    for n in range(7):
        SessionFactory(chatbot=chatbot, external_id=f"s-{n}", created_at=AT.replace(hour=n // 2))
    return Session.objects.filter(chatbot=chatbot)


def test_pages_walk_the_list_once_in_order_across_ties(sessions):
    expected = [s.external_id for s in sessions.order_by(*NEWEST_FIRST)]
    for limit in (1, 2, 3, 7, 50):
        assert walk(sessions, NEWEST_FIRST, limit) == expected
    assert walk(sessions, ("pk",), 3) == [f"s-{n}" for n in range(7)]


def test_an_object_added_meanwhile_never_shifts_the_next_page(sessions):
    first, cursor = keyset.page(sessions, order=NEWEST_FIRST, limit=3, cursor=None)
    SessionFactory(chatbot=first[0].chatbot, external_id="new", created_at=AT.replace(hour=9))
    second, _ = keyset.page(sessions, order=NEWEST_FIRST, limit=3, cursor=cursor)
    assert [s.external_id for s in second] == ["s-3", "s-2", "s-1"]


def test_the_last_page_has_no_cursor(sessions):
    items, cursor = keyset.page(sessions, order=NEWEST_FIRST, limit=7, cursor=None)
    assert len(items) == 7
    assert cursor is None


@pytest.mark.parametrize(
    "cursor",
    [
        "!!",
        "bm90IGpzb24",  # "not json"
        cursor_of(["2026-05-01T12:00:00+00:00"]),
        cursor_of(["2026-05-01T12:00:00+00:00", "1", "2"]),
        cursor_of(["2026-05-01T12:00:00", "1"]),
        cursor_of(["9999-12-31T23:59:59-05:00", "1"]),
        cursor_of(["yesterday", "1"]),
        cursor_of(["2026-05-01T12:00:00+00:00", str(2**64)]),
        cursor_of({"id": 1}),
    ],
)
def test_a_cursor_the_list_never_gave_out_is_refused(sessions, cursor):
    with pytest.raises(keyset.BadCursor):
        keyset.page(sessions, order=NEWEST_FIRST, limit=2, cursor=cursor)
