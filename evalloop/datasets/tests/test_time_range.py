"""Imports into a dataset refuse a filter time out of the accepted range, adding nothing."""

from django.urls import reverse

from evalloop.datasets.models import Row
from evalloop.datasets.tests.factories import vip_sessions
from evalloop.lib.moments import RANGE
from evalloop.teams.permissions import Role

YEAR_10000 = "9999-12-31T23:00:00-05:00"
SAYS_RANGE = f"out of range: accepted times are {RANGE}"


def test_the_import_api_answers_422_naming_the_clause(api, dataset, chatbot):
    vip_sessions(chatbot, 2)
    body = {
        "chatbot": "support",
        "filter": [{"field": "created_at", "op": "after", "value": YEAR_10000}],
    }
    response = api(Role.EDITOR).post(f"/datasets/{dataset.pk}/import", body)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"][-3:] == ["filter", 0, "created_at"]
    assert SAYS_RANGE in error["msg"]
    assert not Row.objects.exists()


def test_the_import_page_shows_the_error_and_a_confirmation_adds_nothing(
    cast, login, dataset, chatbot
):
    vip_sessions(chatbot, 2)
    client = login(cast.editor)
    url = reverse("datasets:import", kwargs={"pk": dataset.pk})
    page = client.get(url, {"chatbot": "support", "f": f"created_at:after:{YEAR_10000}"})
    assert page.context["count"] is None
    assert SAYS_RANGE in page.content.decode()
    response = client.post(
        url, {"chatbot": "support", "filter": f"f=created_at:after:{YEAR_10000}"}, follow=True
    )
    assert SAYS_RANGE in response.content.decode()
    assert not Row.objects.exists()
