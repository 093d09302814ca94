"""A rule's start outside the accepted range (years 1000 to 9000 in UTC) is refused on every
path, naming the field, even where the local time zone makes it overflow in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from evalloop.autopopulate import services
from evalloop.autopopulate.models import Rule
from evalloop.teams.permissions import Role

pytestmark = pytest.mark.django_db

YEAR_ONE = "0001-01-01T00:00"
RANGE = "from 1000-01-01T00:00:00Z"


@pytest.fixture(autouse=True)
def _east_of_utc(settings):
    settings.TIME_ZONE = "Asia/Tokyo"  # where 0001-01-01T00:00 is in year 0 in UTC


def form_fields(chatbot, start_at):
    return {
        "chatbot": chatbot.pk,
        "completion": "ended",
        "idle_minutes": 30,
        "sample_rate": 1,
        "start_at": start_at,
        "enabled": "on",
    }


@pytest.mark.parametrize("start_at", [YEAR_ONE, "0999-12-31T23:59"])
def test_the_form_names_the_start_and_saves_nothing(cast, login, dataset, chatbot, start_at):
    url = reverse("autopopulate:rule-create", args=[dataset.pk])
    response = login(cast.editor).post(url, form_fields(chatbot, start_at))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert RANGE in " ".join(errors["start_at"])
    assert not Rule.objects.exists()


def test_the_edit_form_refuses_it_and_keeps_the_rule(cast, login, make_rule, chatbot):
    rule = make_rule()
    url = reverse("autopopulate:rule-edit", args=[rule.dataset_id, rule.pk]) + "?draft=1"
    response = login(cast.editor).post(url, form_fields(chatbot, YEAR_ONE))
    assert response.status_code == 200
    assert RANGE in " ".join(response.context["form"].errors["start_at"])
    assert Rule.objects.get().start_at == rule.start_at


def test_the_live_preview_says_what_is_wrong(cast, login, dataset, chatbot):
    url = reverse("autopopulate:rule-preview-new", args=[dataset.pk])
    response = login(cast.editor).post(url, form_fields(chatbot, YEAR_ONE))
    assert response.status_code == 200
    assert RANGE in response.content.decode()


def test_the_live_preview_of_a_saved_rule_says_what_is_wrong(cast, login, make_rule, chatbot):
    rule = make_rule()
    url = reverse("autopopulate:rule-preview", args=[rule.dataset_id, rule.pk])
    response = login(cast.editor).post(url, form_fields(chatbot, YEAR_ONE))
    assert response.status_code == 200
    assert RANGE in response.content.decode()


@pytest.mark.parametrize("make", ["create", "draft", "update"])
def test_the_service_refuses_it_on_every_path(dataset, chatbot, make_rule, make):
    early = datetime(999, 12, 31, 23, 59, tzinfo=UTC)
    rule = make_rule()
    calls = {
        "create": lambda: services.create_rule(dataset=dataset, chatbot=chatbot, start_at=early),
        "draft": lambda: services.draft_rule(dataset=dataset, chatbot=chatbot, start_at=early),
        "update": lambda: services.update_rule(rule=rule, start_at=early),
    }
    with pytest.raises(ValidationError) as caught:
        calls[make]()
    assert RANGE in caught.value.message_dict["start_at"][0]


@pytest.mark.parametrize("path", ["", "/preview"])
def test_the_api_refuses_it_naming_the_field(api, dataset, chatbot, path):
    body = {"chatbot": chatbot.pk, "start_at": "0001-01-01T00:00:00+09:00"}
    response = api(Role.EDITOR).post(f"/datasets/{dataset.pk}/rules{path}", body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "start_at"
    assert not Rule.objects.exists()
