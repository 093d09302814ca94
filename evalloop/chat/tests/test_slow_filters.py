"""Filters that would take long: the sessions list and search answer promptly and cleanly."""

import json
import time

import pytest
from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.urls import reverse

from evalloop.chat.models import Message, Session
from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory
from evalloop.filters import FilterTimeout, compiler, filter_time_limit
from evalloop.teams.permissions import Role

CATASTROPHIC = [{"field": "message_content", "op": "regex", "value": "(a+)+$"}]
LONG_MISS = "a" * 20_000 + "b"
GENEROUS_SECONDS = 30  # Python's re would take longer than the universe on one message
# A query that counts to a hundred billion: it runs until something stops it.
ENDLESS = (
    "SELECT i FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 100000000000) SELECT max(i) AS i FROM n) AS counted"
)


@pytest.fixture
def chatbot(cast):
    return ChatbotFactory(team=cast.team, slug="support", name="Support")


@pytest.fixture
def long_messages(chatbot):
    sessions = [SessionFactory(chatbot=chatbot, external_id=f"s-{n}") for n in range(40)]
    Message.objects.bulk_create(
        Message(session=session, role="human", content=LONG_MISS)
        for session in sessions
        for _ in range(3)
    )
    return sessions


@pytest.fixture
def endless_filters(monkeypatch, settings):
    """Every filter also asks for a row of a query that never ends; the limit is a second."""
    settings.EVALLOOP_FILTER_TIMEOUT_SECONDS = 1
    compile_filter = compiler.compile_filter

    def endless(flt, *, team):
        return [*compile_filter(flt, team=team), Q(pk__in=RawSQL(ENDLESS, []))]

    monkeypatch.setattr(compiler, "compile_filter", endless)


def timed(call):
    started = time.monotonic()
    answer = call()
    assert time.monotonic() - started < GENEROUS_SECONDS
    return answer


def test_a_catastrophic_regex_over_long_messages_answers_promptly_in_the_api(api, long_messages):
    client = api(Role.VIEWER)
    listed = timed(
        lambda: client.get("/chatbots/support/sessions", filter=json.dumps(CATASTROPHIC))
    )
    assert listed.status_code == 200
    assert listed.json()["items"] == []
    found = timed(
        lambda: client.post("/chatbots/support/sessions/search", {"filter": CATASTROPHIC})
    )
    assert found.status_code == 200
    assert found.json()["items"] == []


def test_a_catastrophic_regex_over_long_messages_answers_promptly_on_the_page(
    cast, login, chatbot, long_messages
):
    url = reverse("chat:session-list", kwargs={"slug": chatbot.slug})
    response = timed(lambda: login(cast.viewer).get(url, {"f": "message_content:regex:(a+)+$"}))
    assert response.status_code == 200
    assert response.context["sessions"] == []


def test_a_regex_still_finds_what_it_matches_in_long_messages(api, long_messages):
    matching = [{"field": "message_content", "op": "regex", "value": "^a+b$"}]
    response = api(Role.VIEWER).post("/chatbots/support/sessions/search", {"filter": matching})
    assert len(response.json()["items"]) == len(long_messages)


def test_a_filter_past_the_time_limit_answers_422_naming_the_filter(api, chatbot, endless_filters):
    SessionFactory(chatbot=chatbot)
    client = api(Role.VIEWER)
    for at, response in (
        ("query", timed(lambda: client.get("/chatbots/support/sessions"))),
        ("body", timed(lambda: client.post("/chatbots/support/sessions/search", {"filter": []}))),
    ):
        assert response.status_code == 422
        [detail] = response.json()["detail"]
        assert detail["loc"] == [at, "filter"]
        assert detail["msg"].startswith("the filter took longer than 1 second to run")
        assert "narrow it, for example with a time clause" in detail["msg"]


def test_a_filter_past_the_time_limit_says_so_on_the_page(cast, login, chatbot, endless_filters):
    SessionFactory(chatbot=chatbot)
    url = reverse("chat:session-list", kwargs={"slug": chatbot.slug})
    response = timed(lambda: login(cast.viewer).get(url))
    assert response.status_code == 200
    assert response.context["sessions"] == []
    assert "The filter took longer than 1 second to run, so it was stopped" in (
        response.content.decode()
    )


def test_the_connection_works_as_before_after_a_stopped_query(db):
    with pytest.raises(FilterTimeout), filter_time_limit(1):
        list(Session.objects.filter(pk__in=RawSQL(ENDLESS, [])))
    started = time.monotonic()
    with filter_time_limit(1):
        assert Session.objects.count() == 0
    assert Session.objects.filter(pk__in=RawSQL("SELECT 1", [])).count() == 0
    assert time.monotonic() - started < GENEROUS_SECONDS
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == "0"


def test_the_add_to_dataset_form_of_the_page_leaves_out_a_count_past_the_limit(
    cast, login, chatbot, endless_filters
):
    SessionFactory(chatbot=chatbot)
    url = reverse("datasets:add-sessions")
    query = {"chatbot": "support", "f": "channel:eq:web"}
    response = timed(lambda: login(cast.editor).get(url, query))
    assert response.status_code == 200
    assert response.context["matching"] is None
