"""Chatbot and session endpoints of the traffic API."""

import json

import pytest

from evalloop.chat import services
from evalloop.chat.models import Chatbot
from evalloop.chat.tests.factories import ChatbotFactory, MessageFactory, SessionFactory
from evalloop.teams.permissions import Role


@pytest.fixture
def chatbot(cast):
    return ChatbotFactory(team=cast.team, slug="support", name="Support")


@pytest.fixture
def session(chatbot):
    session = SessionFactory(chatbot=chatbot, external_id="s-1")
    services.change_session_tags(session=session, add=["vip"])
    return session


def test_an_editor_creates_a_chatbot(api, cast):
    response = api(Role.EDITOR).post("/chatbots", {"slug": "support", "name": "Support"})
    assert response.status_code == 201
    assert response.json()["slug"] == "support"
    assert Chatbot.objects.get(team=cast.team).name == "Support"


def test_the_same_slug_again_is_a_409(api, chatbot):
    response = api(Role.EDITOR).post("/chatbots", {"slug": "support", "name": "Again"})
    assert response.status_code == 409
    message = "A chatbot with the slug 'support' already exists in this team."
    assert response.json()["detail"] == [{"loc": ["body", "slug"], "msg": message}]


def test_a_bad_slug_is_a_422(api, cast):
    response = api(Role.EDITOR).post("/chatbots", {"slug": "not a slug", "name": "X"})
    assert response.status_code == 422
    assert not Chatbot.objects.exists()


def test_the_viewer_cannot_create_a_chatbot(api, cast):
    response = api(Role.VIEWER).post("/chatbots", {"slug": "support", "name": "Support"})
    assert response.status_code == 403
    assert not Chatbot.objects.exists()


def test_chatbots_are_listed_for_the_keys_team_only(api, cast, chatbot):
    ChatbotFactory(team=cast.other_team, slug="theirs")
    response = api(Role.VIEWER).get("/chatbots")
    assert [c["slug"] for c in response.json()["items"]] == ["support"]
    assert response.json()["next_cursor"] is None


def test_one_chatbot_by_slug(api, chatbot):
    assert api(Role.VIEWER).get("/chatbots/support").json()["name"] == "Support"


def test_another_teams_chatbot_is_a_404(api, cast):
    ChatbotFactory(team=cast.other_team, slug="theirs")
    assert api(Role.VIEWER).get("/chatbots/theirs").status_code == 404
    assert api(Role.VIEWER).get("/chatbots/theirs/sessions").status_code == 404


def test_sessions_are_listed_newest_first_with_tags(api, chatbot, session):
    SessionFactory(chatbot=chatbot, external_id="s-2")
    items = api(Role.VIEWER).get("/chatbots/support/sessions").json()["items"]
    assert [s["external_id"] for s in items] == ["s-2", "s-1"]
    assert items[1]["tags"] == ["vip"]
    assert items[1]["chatbot"] == "support"


def test_sessions_are_paginated_by_cursor(api, chatbot):
    SessionFactory.create_batch(3, chatbot=chatbot)
    client = api(Role.VIEWER)
    first = client.get("/chatbots/support/sessions", limit=2).json()
    second = client.get("/chatbots/support/sessions", limit=2, cursor=first["next_cursor"]).json()
    assert len(first["items"]) == 2
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None


def test_sessions_are_filtered(api, chatbot, session):
    SessionFactory(chatbot=chatbot, external_id="s-2")
    flt = json.dumps([{"field": "tags", "op": "any_of", "value": ["vip"]}])
    items = api(Role.VIEWER).get("/chatbots/support/sessions", filter=flt).json()["items"]
    assert [s["external_id"] for s in items] == ["s-1"]


def test_a_bad_filter_is_a_422_naming_the_clause(api, chatbot):
    clauses = [
        {"field": "channel", "op": "eq", "value": "web"},
        {"field": "tags", "op": "gt", "value": 1},
    ]
    flt = json.dumps(clauses)
    response = api(Role.VIEWER).get("/chatbots/support/sessions", filter=flt)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "filter", 1, "tags"]
    assert "clause 2" in error["msg"]


def test_a_filter_that_is_not_json_is_a_422(api, chatbot):
    response = api(Role.VIEWER).get("/chatbots/support/sessions", filter="[{")
    assert response.status_code == 422


VIP = [{"field": "tags", "op": "any_of", "value": ["vip"]}]


def test_a_search_posts_the_filter_in_the_body(api, chatbot, session):
    SessionFactory(chatbot=chatbot, external_id="s-2")
    response = api(Role.VIEWER).post("/chatbots/support/sessions/search", {"filter": VIP})
    assert response.status_code == 200
    assert [s["external_id"] for s in response.json()["items"]] == ["s-1"]
    assert response.json()["next_cursor"] is None


def test_a_search_without_a_filter_lists_every_session_by_pages(api, chatbot):
    SessionFactory.create_batch(3, chatbot=chatbot)
    client = api(Role.VIEWER)
    first = client.post("/chatbots/support/sessions/search", {"limit": 2}).json()
    second = client.post(
        "/chatbots/support/sessions/search", {"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert [len(first["items"]), len(second["items"])] == [2, 1]
    assert second["next_cursor"] is None


def test_a_search_takes_a_filter_too_long_for_a_url(api, chatbot, session):
    participants = [f"participant-{n:03}-{'x' * 80}" for n in range(100)]
    flt = [*VIP, {"field": "participant", "op": "in", "value": participants}]
    other = SessionFactory(chatbot=chatbot, external_id="s-2", participant=participants[7])
    SessionFactory(chatbot=chatbot, external_id="s-3", participant=participants[8])
    services.change_session_tags(session=other, add=["vip"])
    client = api(Role.VIEWER)
    too_long = client.get("/chatbots/support/sessions", filter=json.dumps(flt))
    assert too_long.status_code == 414
    assert too_long.json()["detail"][0]["loc"] == []
    assert "POST /api/v1/chatbots/{slug}/sessions/search" in too_long.json()["detail"][0]["msg"]
    response = client.post("/chatbots/support/sessions/search", {"filter": flt})
    assert response.status_code == 200
    assert [s["external_id"] for s in response.json()["items"]] == ["s-2"]


@pytest.mark.parametrize("body", ['{"filtr": []}', "NaN", "[1]", '"vip"', '{"cursor": "a\\u0000"}'])
def test_a_search_body_that_is_not_a_search_is_a_422(api, chatbot, session, body):
    response = api(Role.VIEWER).client.post(
        "/api/v1/chatbots/support/sessions/search", body, content_type="application/json"
    )
    assert response.status_code == 422


def test_a_bad_search_is_a_422_naming_the_clause(api, chatbot):
    clauses = [*VIP, {"field": "message_content", "op": "regex", "value": "(?=lookahead)"}]
    response = api(Role.VIEWER).post("/chatbots/support/sessions/search", {"filter": clauses})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "filter", 1, "message_content"]
    assert error["msg"] == (
        "clause 2 (message_content): regex: lookaround like (?=...) is not supported"
    )


def test_a_search_of_another_teams_chatbot_is_a_404(api, cast, session):
    client = api(Role.VIEWER, team=cast.other_team)
    assert client.post("/chatbots/support/sessions/search", {"filter": VIP}).status_code == 404


def test_a_session_named_search_is_still_found_by_its_id(api, chatbot):
    SessionFactory(chatbot=chatbot, external_id="search")
    response = api(Role.VIEWER).get("/chatbots/support/sessions/search")
    assert response.status_code == 200
    assert response.json()["external_id"] == "search"


def test_the_session_detail_has_messages_and_tags(api, session):
    first = MessageFactory(session=session, content="hi")
    MessageFactory(session=session, content="hello", role="ai")
    services.change_message_tags(message=first, add=["greeting"])
    body = api(Role.VIEWER).get("/chatbots/support/sessions/s-1").json()
    assert body["tags"] == ["vip"]
    assert [(m["role"], m["content"], m["tags"]) for m in body["messages"]] == [
        ("human", "hi", ["greeting"]),
        ("ai", "hello", []),
    ]


def test_another_teams_session_is_a_404(api, cast, session):
    client = api(Role.EDITOR, team=cast.other_team)
    assert client.get("/chatbots/support/sessions/s-1").status_code == 404
    assert client.post("/chatbots/support/sessions/s-1/end").status_code == 404
    assert client.post("/chatbots/support/sessions/s-1/tags", {"add": ["x"]}).status_code == 404


def test_an_editor_ends_a_session(api, session):
    response = api(Role.EDITOR).post("/chatbots/support/sessions/s-1/end")
    assert response.status_code == 200
    assert response.json()["ended_at"] is not None
    session.refresh_from_db()
    assert session.ended


def test_an_editor_changes_tags(api, session):
    response = api(Role.EDITOR).post(
        "/chatbots/support/sessions/s-1/tags", {"add": ["paid"], "remove": ["vip"]}
    )
    assert response.status_code == 200
    assert response.json()["tags"] == ["paid"]


def test_an_empty_tag_is_a_422(api, session):
    response = api(Role.EDITOR).post("/chatbots/support/sessions/s-1/tags", {"add": [" "]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-2:] == ["add", 0]


def test_more_than_a_hundred_tags_in_one_change_is_a_422(api, session):
    tags = [f"t-{n}" for n in range(101)]
    response = api(Role.EDITOR).post("/chatbots/support/sessions/s-1/tags", {"add": tags})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "add"


def test_the_viewer_cannot_end_or_tag(api, session):
    client = api(Role.VIEWER)
    assert client.post("/chatbots/support/sessions/s-1/end").status_code == 403
    assert client.post("/chatbots/support/sessions/s-1/tags", {"add": ["x"]}).status_code == 403
    session.refresh_from_db()
    assert not session.ended
    assert [t.name for t in session.tags.all()] == ["vip"]


def test_the_session_list_query_count_does_not_grow(
    api, chatbot, django_assert_max_num_queries, django_assert_num_queries
):
    client = api(Role.VIEWER)
    SessionFactory.create_batch(2, chatbot=chatbot)
    client.get("/chatbots/support/sessions")  # the key's last use is recorded once
    with django_assert_max_num_queries(10) as few:
        client.get("/chatbots/support/sessions")
    SessionFactory.create_batch(20, chatbot=chatbot)
    with django_assert_num_queries(len(few.captured_queries)):
        client.get("/chatbots/support/sessions")
