from __future__ import annotations

import pytest

from evalloop.evaluators.models import Provider
from evalloop.evaluators.tests.judges import API_KEY, make_judge, make_provider
from evalloop.lib import crypto
from evalloop.runs.models import Config, Run, RunEvaluator, RunStatus
from evalloop.teams.permissions import Role

KEY = "sk-proj-abcdefghijklmnopqrstuvwxyzf3a9"
BODY = {
    "name": "OpenAI",
    "kind": "openai",
    "api_key": KEY,
    "prices": {"gpt-4o-mini": {"input": 0.15, "output": 0.6}},
}


def locs(response):
    return [item["loc"] for item in response.json()["detail"]]


@pytest.fixture
def provider(cast):
    return make_provider(cast.team, "http://127.0.0.1:9/v1", name="Local")


def test_an_admin_adds_a_provider_and_sees_only_a_hint_of_its_key(api):
    response = api(Role.ADMIN).post("/providers", BODY)
    assert response.status_code == 201
    assert response.json() | {"id": 0, "created_at": "", "updated_at": ""} == {
        "id": 0,
        "name": "OpenAI",
        "kind": "openai",
        "base_url": "",
        "key_hint": "sk-...f3a9",
        "prices": {"gpt-4o-mini": {"input": 0.15, "output": 0.6}},
        "created_at": "",
        "updated_at": "",
    }
    stored = Provider.objects.get()
    assert KEY not in stored.encrypted_key
    assert crypto.decrypt(stored.encrypted_key) == KEY


def test_the_key_is_in_no_answer(api, provider):
    client = api(Role.ADMIN)
    created = client.post("/providers", BODY | {"name": "Another"})
    pid = created.json()["id"]
    answers = [
        created,
        client.get("/providers"),
        client.get(f"/providers/{pid}"),
        client.patch(f"/providers/{pid}", {"api_key": KEY + "new", "name": "Renamed"}),
    ]
    for response in answers:
        assert response.status_code in (200, 201)
        assert KEY not in response.content.decode()
        assert API_KEY not in response.content.decode()


def test_members_read_providers_but_only_admins_write(api, provider):
    for role in (Role.VIEWER, Role.EDITOR):
        client = api(role)
        assert client.get("/providers").status_code == 200
        assert client.get(f"/providers/{provider.pk}").json()["name"] == "Local"
        assert client.post("/providers", BODY).status_code == 403
        assert client.patch(f"/providers/{provider.pk}", {"name": "X"}).status_code == 403
        assert client.delete(f"/providers/{provider.pk}").status_code == 403
    assert Provider.objects.get().name == "Local"
    assert api(Role.OWNER).post("/providers", BODY).status_code == 201


def test_another_teams_provider_is_404(api, cast, provider):
    outsider = api(Role.ADMIN, team=cast.other_team)
    assert outsider.get(f"/providers/{provider.pk}").status_code == 404
    assert outsider.patch(f"/providers/{provider.pk}", {"name": "Mine"}).status_code == 404
    assert outsider.delete(f"/providers/{provider.pk}").status_code == 404
    assert outsider.get("/providers").json()["items"] == []
    assert Provider.objects.get().name == "Local"


def test_providers_are_listed_in_pages(api, cast):
    for name in ("A", "B", "C"):
        make_provider(cast.team, "", name=name)
    client = api(Role.VIEWER)
    first = client.get("/providers", limit=2).json()
    assert [p["name"] for p in first["items"]] == ["A", "B"]
    second = client.get("/providers", limit=2, cursor=first["next_cursor"]).json()
    assert ([p["name"] for p in second["items"]], second["next_cursor"]) == (["C"], None)


def test_a_taken_name_is_409(api, provider):
    response = api(Role.ADMIN).post("/providers", BODY | {"name": "Local"})
    assert response.status_code == 409
    assert response.json()["detail"] == [
        {"loc": ["body", "name"], "msg": "A provider named 'Local' already exists in this team."}
    ]


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"kind": "gemini"}, ["body", "kind"]),
        ({"base_url": "ftp://example.com"}, ["body", "base_url"]),
        ({"base_url": "https://user:pass@example.com/v1"}, ["body", "base_url"]),
        ({"base_url": "https://example.com/" + "a" * 600}, ["body", "base_url"]),
        ({"base_url": "not a url"}, ["body", "base_url"]),
        ({"base_url": "http://example.com:99999"}, ["body", "base_url"]),
        ({"api_key": ""}, ["body", "api_key"]),
        ({"api_key": "two words"}, ["body", "api_key"]),
        ({"prices": {"m": {"input": -1, "output": 1}}}, ["body", "prices", "m", "input"]),
        ({"prices": {"m": {"input": 1}}}, ["body", "prices", "m", "output"]),
        (
            {"prices": {"m": {"input": 1, "output": 1, "cached": 1}}},
            ["body", "prices", "m", "cached"],
        ),
        ({"colour": "red"}, ["body", "colour"]),
    ],
)
def test_bad_input_is_422_naming_the_field_and_stores_nothing(api, change, loc):
    response = api(Role.ADMIN).post("/providers", BODY | change)
    assert response.status_code == 422, response.content
    assert loc in locs(response)
    assert not Provider.objects.exists()


def test_a_base_url_is_kept_without_its_trailing_slash(api):
    body = BODY | {"base_url": "http://127.0.0.1:11434/v1/"}
    assert (
        api(Role.ADMIN).post("/providers", body).json()["base_url"] == "http://127.0.0.1:11434/v1"
    )


def test_patch_keeps_the_key_when_none_is_given(api, provider):
    before = provider.encrypted_key
    response = api(Role.ADMIN).patch(f"/providers/{provider.pk}", {"name": "Renamed"})
    assert response.json()["name"] == "Renamed"
    provider.refresh_from_db()
    assert provider.encrypted_key == before
    assert crypto.decrypt(provider.encrypted_key) == API_KEY


def test_patch_replaces_the_key_and_its_hint(api, provider):
    response = api(Role.ADMIN).patch(f"/providers/{provider.pk}", {"api_key": KEY})
    assert response.json()["key_hint"] == "sk-...f3a9"
    provider.refresh_from_db()
    assert crypto.decrypt(provider.encrypted_key) == KEY


def test_patch_refuses_null_a_new_kind_and_a_taken_name(api, cast, provider):
    make_provider(cast.team, "", name="Other")
    client = api(Role.ADMIN)
    assert locs(client.patch(f"/providers/{provider.pk}", {"api_key": None})) == [
        ["body", "api_key"]
    ]
    assert locs(client.patch(f"/providers/{provider.pk}", {"kind": "anthropic"})) == [
        ["body", "kind"]
    ]
    assert client.patch(f"/providers/{provider.pk}", {"name": "Other"}).status_code == 409
    assert client.patch(f"/providers/{provider.pk}", {"base_url": ""}).json()["base_url"] == ""


def test_deleting_a_provider_a_judge_uses_is_409_naming_it(api, provider):
    version = make_judge(provider, name="Helpfulness")
    client = api(Role.ADMIN)
    response = client.delete(f"/providers/{provider.pk}")
    assert response.status_code == 409
    assert "'Helpfulness'" in response.json()["detail"][0]["msg"]
    version.evaluator.delete()
    assert client.delete(f"/providers/{provider.pk}").status_code == 204
    assert not Provider.objects.exists()


def test_deleting_a_provider_an_unfinished_run_calls_is_409(api, cast, provider):
    from evalloop.datasets.tests.factories import DatasetFactory

    version = make_judge(provider)
    version.evaluator.delete()  # the version stays, frozen in the run's plan
    config = Config.objects.create(team=cast.team, name="C", dataset=DatasetFactory(team=cast.team))
    run = Run.objects.create(team=cast.team, config=config, type="full", status=RunStatus.RUNNING)
    RunEvaluator.objects.create(run=run, version=version, position=0)
    client = api(Role.ADMIN)
    assert client.delete(f"/providers/{provider.pk}").status_code == 409
    Run.objects.filter(pk=run.pk).update(status=RunStatus.COMPLETED)
    assert client.delete(f"/providers/{provider.pk}").status_code == 204


def test_a_judge_of_another_provider_does_not_block_a_delete(api, cast, provider):
    other = make_provider(cast.team, "", name="Other")
    make_judge(other)
    assert api(Role.ADMIN).delete(f"/providers/{provider.pk}").status_code == 204
