from __future__ import annotations

import pytest
from django.urls import reverse

from evalloop.evaluators.models import Provider
from evalloop.evaluators.tests.judges import API_KEY, make_judge, make_provider
from evalloop.lib import crypto

LIST = reverse("evaluators:providers")
KEY = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz-9f3a"
FORM = {
    "name": "Anthropic",
    "kind": "anthropic",
    "base_url": "",
    "api_key": KEY,
    "prices": "claude-sonnet-4-5 3 15\n\nclaude-haiku-4-5 1 5",
}


@pytest.fixture
def provider(cast):
    return make_provider(
        cast.team, "http://127.0.0.1:8080/v1", name="Local", prices={"m": {"input": 1, "output": 2}}
    )


def edit_url(provider):
    return reverse("evaluators:provider-edit", args=[provider.pk])


def delete_url(provider):
    return reverse("evaluators:provider-delete", args=[provider.pk])


def test_an_admin_adds_a_provider_and_the_page_shows_only_its_hint(login, cast):
    client = login(cast.admin)
    response = client.post(LIST, FORM)
    assert response.status_code == 302
    provider = Provider.objects.get()
    assert provider.prices == {
        "claude-sonnet-4-5": {"input": 3.0, "output": 15.0},
        "claude-haiku-4-5": {"input": 1.0, "output": 5.0},
    }
    assert crypto.decrypt(provider.encrypted_key) == KEY
    page = client.get(LIST).content.decode()
    assert "sk-...9f3a" in page
    assert KEY not in page


def test_the_key_is_on_no_page_even_when_the_form_is_refused(login, cast, provider):
    client = login(cast.admin)
    refused = client.post(LIST, FORM | {"base_url": "ftp://nowhere"})
    assert refused.status_code == 200
    assert "http:// or https://" in refused.content.decode()
    pages = [
        refused,
        client.get(LIST),
        client.get(edit_url(provider)),
        client.post(edit_url(provider), FORM | {"name": "", "api_key": KEY}),
        client.get(delete_url(provider)),
    ]
    for page in pages:
        html = page.content.decode()
        assert KEY not in html
        assert API_KEY not in html
    assert Provider.objects.count() == 1


def test_the_settings_tabs_lead_to_providers(login, cast):
    page = login(cast.viewer).get(reverse("settings")).content.decode()
    assert f'href="{LIST}"' in page


def test_viewers_and_editors_see_providers_without_write_buttons(login, cast, provider):
    for user in (cast.viewer, cast.editor):
        client = login(user)
        page = client.get(LIST).content.decode()
        assert "Local" in page
        assert edit_url(provider) not in page
        assert "Add a provider" not in page
        assert client.post(LIST, FORM).status_code == 403
        assert client.get(edit_url(provider)).status_code == 403
        assert client.post(edit_url(provider), FORM).status_code == 403
        assert client.post(delete_url(provider)).status_code == 403
    assert Provider.objects.get().name == "Local"


def test_an_outsider_gets_404_for_another_teams_provider(login, cast, provider):
    client = login(cast.outsider)
    assert client.get(edit_url(provider)).status_code == 404
    assert client.post(edit_url(provider), FORM).status_code == 404
    assert client.post(delete_url(provider)).status_code == 404
    assert "Local" not in client.get(LIST).content.decode()
    assert Provider.objects.filter(pk=provider.pk).exists()


def test_editing_with_an_empty_key_keeps_the_key(login, cast, provider):
    before = provider.encrypted_key
    form = {
        "name": "Renamed",
        "base_url": "https://llm.example.com/v1",
        "api_key": "",
        "prices": "",
    }
    response = login(cast.admin).post(edit_url(provider), form)
    assert response.status_code == 302
    provider.refresh_from_db()
    assert (provider.name, provider.base_url, provider.prices) == (
        "Renamed",
        "https://llm.example.com/v1",
        {},
    )
    assert provider.encrypted_key == before


def test_editing_with_a_new_key_replaces_it_and_the_kind_stays(login, cast, provider):
    login(cast.admin).post(edit_url(provider), FORM | {"name": "Local"})
    provider.refresh_from_db()
    assert crypto.decrypt(provider.encrypted_key) == KEY
    assert provider.kind == "openai"
    assert provider.key_hint == "sk-...9f3a"


def test_the_edit_form_shows_the_prices_and_the_hint(login, cast, provider):
    page = login(cast.admin).get(edit_url(provider)).content.decode()
    assert "m 1 2" in page
    assert provider.key_hint in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prices": "gpt-4o 1"}, "Line 1: write a model name and two prices"),
        ({"prices": "a 1 2\na 3 4"}, "Line 2: a is priced twice"),
        ({"prices": "a -1 2"}, "greater than or equal to 0"),
        ({"prices": "a nan 2"}, "Line 1"),
        ({"name": "Local"}, "already exists"),
        ({"api_key": ""}, "This field is required"),
        ({"base_url": "https://me:pw@example.com"}, "no credentials"),
    ],
)
def test_bad_input_is_a_form_error_and_stores_nothing(login, cast, provider, change, message):
    response = login(cast.admin).post(LIST, FORM | change)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Provider.objects.count() == 1


def test_a_taken_name_is_shown_beside_the_name_field(login, cast, provider):
    response = login(cast.admin).post(LIST, FORM | {"name": "Local"})
    form = response.context["form"]
    assert form.errors["name"] == ["A provider named 'Local' already exists in this team."]
    assert not form.non_field_errors()


def test_a_provider_in_use_shows_its_evaluators_and_is_not_deleted(login, cast, provider):
    make_judge(provider, name="Tone judge")
    client = login(cast.admin)
    assert "Tone judge" in client.get(LIST).content.decode()
    confirm = client.get(delete_url(provider)).content.decode()
    assert "cannot be deleted" in confirm
    response = client.post(delete_url(provider), follow=True)
    assert "Tone judge" in response.content.decode()
    assert Provider.objects.filter(pk=provider.pk).exists()


def test_an_admin_deletes_an_unused_provider_after_confirming(login, cast, provider):
    client = login(cast.admin)
    assert "Delete provider" in client.get(delete_url(provider)).content.decode()
    assert client.post(delete_url(provider)).status_code == 302
    assert not Provider.objects.exists()


def test_the_list_costs_a_fixed_number_of_queries(login, cast, django_assert_max_num_queries):
    for n in range(5):
        make_judge(make_provider(cast.team, "", name=f"P{n}"), name=f"J{n}")
    client = login(cast.admin)
    with django_assert_max_num_queries(12):
        assert client.get(LIST).status_code == 200
