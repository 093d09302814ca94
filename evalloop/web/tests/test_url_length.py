"""A URL longer than evalloop reads answers 414: JSON on the API, a page on the web."""

from django.urls import reverse

from evalloop.chat.tests.factories import ChatbotFactory
from evalloop.teams.permissions import Role
from evalloop.web.middleware import MAX_URL_LENGTH


def test_an_api_url_too_long_answers_414_as_json(api):
    response = api(Role.VIEWER).get("/chatbots", filter="x" * MAX_URL_LENGTH)
    assert response.status_code == 414
    assert response["Content-Type"] == "application/json"
    [detail] = response.json()["detail"]
    assert detail["loc"] == []
    assert f"at most {MAX_URL_LENGTH} are read" in detail["msg"]


def test_a_url_at_the_limit_is_read(api, cast):
    path = "/api/v1/chatbots?x="
    response = api(Role.VIEWER).get("/chatbots", x="x" * (MAX_URL_LENGTH - len(path)))
    assert response.status_code == 200


def test_a_page_url_too_long_answers_a_page_that_leads_back(cast, login):
    ChatbotFactory(team=cast.team, slug="support")
    url = reverse("chat:session-list", kwargs={"slug": "support"})
    response = login(cast.viewer).get(url, {"f": "participant:eq:" + "x" * MAX_URL_LENGTH})
    assert response.status_code == 414
    page = response.content.decode()
    assert "This address is too long" in page
    assert f'href="{url}"' in page


def test_the_page_leads_back_to_the_page_the_link_came_from(cast, login):
    ChatbotFactory(team=cast.team, slug="support")
    url = reverse("chat:session-list", kwargs={"slug": "support"})
    previous = f"http://testserver{url}?f=channel:eq:web"
    response = login(cast.viewer).get(
        url, {"f": "participant:eq:" + "x" * MAX_URL_LENGTH}, HTTP_REFERER=previous
    )
    assert f'href="{previous}"' in response.content.decode()
    elsewhere = login(cast.viewer).get(
        url, {"f": "x" * MAX_URL_LENGTH}, HTTP_REFERER="https://elsewhere.example/"
    )
    assert "elsewhere.example" not in elsewhere.content.decode()
