import pytest
from django.urls import reverse

from evalloop.chat.tests.factories import ChatbotFactory, TagFactory

URL = reverse("filters:clause-form")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def team_a_tags(cast):
    TagFactory(team=cast.team, name="vip-a")
    ChatbotFactory(team=cast.team, slug="bot-a")
    TagFactory(team=cast.other_team, name="vip-b")


def test_it_renders_the_row_for_a_field(cast, login, team_a_tags):
    response = login(cast.viewer).get(URL, {"target": "session", "field": "tags"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div class="filter-clause">')
    assert "<html" not in html
    assert '<option value="any_of" selected>any of</option>' in html
    assert '<option value="vip-a"></option>' in html


def test_an_outsider_sees_only_their_own_teams_tags(cast, login, team_a_tags):
    response = login(cast.outsider).get(URL, {"target": "session", "field": "tags"}, **HTMX)
    html = response.content.decode()
    assert "vip-a" not in html
    assert "vip-b" in html


def test_it_suggests_the_teams_chatbots(cast, login, team_a_tags):
    response = login(cast.editor).get(URL, {"target": "message", "field": "session.chatbot"})
    assert '<option value="bot-a"></option>' in response.content.decode()


def test_the_operator_decides_the_inputs(cast, login):
    query = {"target": "session", "field": "created_at", "op": "between", "value": "x"}
    html = login(cast.viewer).get(URL, query, **HTMX).content.decode()
    assert html.count('type="datetime-local"') == 2
    query = {"target": "message", "field": "role", "op": "in", "value": "ai"}
    html = login(cast.viewer).get(URL, query, **HTMX).content.decode()
    assert '<input type="checkbox" name="value" value="ai" checked>' in html


def test_an_unknown_target_is_404(cast, login):
    assert login(cast.viewer).get(URL, {"target": "chatbot"}).status_code == 404


def test_it_only_answers_get(cast, login):
    assert login(cast.editor).post(URL, {"target": "session"}).status_code == 405


def test_it_needs_a_login(client, db):
    response = client.get(URL, {"target": "session"})
    assert response.status_code == 302
    assert "/login" in response["Location"]
