"""Every API list pages by cursor, and a cursor it never gave out is a 422 naming it."""

import pytest

from evalloop.chat.tests.factories import ChatbotFactory
from evalloop.datasets.tests.factories import DatasetFactory, RowFactory
from evalloop.teams.permissions import Role


@pytest.fixture
def lists(cast):
    chatbot = ChatbotFactory(team=cast.team, slug="support")
    dataset = DatasetFactory(team=cast.team)
    RowFactory.create_batch(3, dataset=dataset)
    return [
        "/chatbots",
        "/datasets",
        f"/chatbots/{chatbot.slug}/sessions",
        f"/datasets/{dataset.pk}/rows",
    ]


def test_a_malformed_cursor_is_a_422_naming_the_cursor(api, lists):
    client = api(Role.VIEWER)
    for path in lists:
        response = client.get(path, cursor="not-a-cursor")
        assert response.status_code == 422, path
        assert [item["loc"] for item in response.json()["detail"]] == [["query", "cursor"]]


def test_pages_follow_each_other(api, lists):
    client = api(Role.VIEWER)
    path = lists[-1]
    first = client.get(path, limit=2).json()
    second = client.get(path, limit=2, cursor=first["next_cursor"]).json()
    ids = [row["id"] for row in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 3
    assert second["next_cursor"] is None


def test_a_malformed_cursor_in_a_body_is_named_there(api, lists):
    response = api(Role.VIEWER).post("/chatbots/support/sessions/search", {"cursor": "nope"})
    assert response.status_code == 422
    assert [item["loc"] for item in response.json()["detail"]] == [["body", "cursor"]]
