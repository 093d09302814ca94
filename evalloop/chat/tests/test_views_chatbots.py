"""The chatbots page: list with session counts, and the create form."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evalloop.chat.models import Chatbot
from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory

URL = reverse("chat:chatbot-list")


@pytest.fixture
def chatbot(cast):
    return ChatbotFactory(team=cast.team, slug="support", name="Support")


def test_it_lists_the_teams_chatbots_with_session_counts(cast, login, chatbot):
    SessionFactory.create_batch(3, chatbot=chatbot)
    ChatbotFactory(team=cast.other_team, name="Theirs")
    response = login(cast.viewer).get(URL)
    assert response.status_code == 200
    assert list(response.context["chatbots"]) == [chatbot]
    assert response.context["chatbots"][0].session_count == 3
    assert b"Theirs" not in response.content


def test_the_viewer_sees_no_create_form(cast, login, chatbot):
    assert b"Create chatbot" not in login(cast.viewer).get(URL).content
    assert b"Create chatbot" in login(cast.editor).get(URL).content


def test_an_editor_creates_a_chatbot(cast, login):
    response = login(cast.editor).post(URL, {"name": "Sales", "slug": "sales"})
    assert response.status_code == 302
    assert response["Location"] == reverse("chat:session-list", kwargs={"slug": "sales"})
    assert Chatbot.objects.get(team=cast.team).name == "Sales"


def test_a_taken_slug_is_a_form_error(cast, login, chatbot):
    response = login(cast.editor).post(URL, {"name": "Again", "slug": "support"})
    assert response.status_code == 200
    assert response.context["form"].errors["slug"]
    assert Chatbot.objects.count() == 1


def test_the_viewer_cannot_create_a_chatbot(cast, login):
    response = login(cast.viewer).post(URL, {"name": "Sales", "slug": "sales"})
    assert response.status_code == 403
    assert not Chatbot.objects.exists()


def test_an_outsider_sees_only_their_own_team(cast, login, chatbot):
    response = login(cast.outsider).get(URL)
    assert list(response.context["chatbots"]) == []
    page = reverse("chat:session-list", kwargs={"slug": chatbot.slug})
    assert login(cast.outsider).get(page).status_code == 404


def test_the_list_query_count_does_not_grow_with_rows(
    cast, login, chatbot, django_assert_num_queries
):
    client = login(cast.viewer)
    SessionFactory(chatbot=chatbot)
    client.get(URL)
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    for n in range(5):
        SessionFactory.create_batch(2, chatbot=ChatbotFactory(team=cast.team, slug=f"b-{n}"))
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(URL)
