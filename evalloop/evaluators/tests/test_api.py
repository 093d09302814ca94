from __future__ import annotations

import pytest

from evalloop.evaluators.models import Evaluator
from evalloop.evaluators.tests.factories import JUDGED, EvaluatorFactory, finish, unfinished_run
from evalloop.evaluators.tests.judges import make_provider
from evalloop.teams.permissions import Role


def locs(response):
    return [item["loc"] for item in response.json()["detail"]]


def test_an_editor_creates_an_evaluator_with_its_version(api):
    body = {"name": "Has order", "kind": "regex", "params": {"pattern": "#[0-9]+"}}
    response = api(Role.EDITOR).post("/evaluators", body)
    assert response.status_code == 201
    answer = response.json()
    assert answer["params"] == {"pattern": "#[0-9]+", "field": "output"}
    assert answer["output_schema"] == {"fields": [{"name": "match", "type": "boolean"}]}
    assert set(answer["version"]) == {"id", "digest", "created_at"}
    assert len(answer["version"]["digest"]) == 12
    assert set(answer) >= {"id", "description", "created_at", "updated_at"}


def test_bad_params_are_422_naming_each_field(api):
    body = {"name": "X", "kind": "regex", "params": {"pattern": "(", "colour": 1}}
    response = api(Role.EDITOR).post("/evaluators", body)
    assert response.status_code == 422
    assert sorted(locs(response)) == [["body", "params", "colour"], ["body", "params", "pattern"]]
    assert not Evaluator.objects.exists()


def test_an_unknown_kind_and_a_bad_output_schema_are_422(api, cast):
    client = api(Role.EDITOR)
    unknown = client.post("/evaluators", {"name": "X", "kind": "vibes", "params": {}})
    assert locs(unknown) == [["body", "kind"]]
    fixed = client.post(
        "/evaluators",
        {"name": "X", "kind": "length", "params": {}, "output_schema": JUDGED},
    )
    assert locs(fixed) == [["body", "output_schema"]]
    misspelt = client.post("/evaluators", {"name": "X", "kind": "length", "parms": {}})
    assert locs(misspelt) == [["body", "parms"]]


def test_a_judge_with_an_unknown_variable_is_422_at_params_prompt(api, cast):
    provider = make_provider(cast.team, "http://127.0.0.1:9/v1")
    params = {"provider": provider.pk, "model": "m", "prompt": "Rate {{ouput}}."}
    body = {"name": "Judge", "kind": "llm_judge", "params": params, "output_schema": JUDGED}
    response = api(Role.EDITOR).post("/evaluators", body)
    assert response.status_code == 422
    assert locs(response) == [["body", "params", "prompt"]]


def test_a_taken_name_is_409(api, evaluator):
    body = {"name": "Polite", "kind": "exact_match"}
    response = api(Role.EDITOR).post("/evaluators", body)
    assert response.status_code == 409
    assert response.json()["detail"] == [
        {"loc": ["body", "name"], "msg": "An evaluator named 'Polite' already exists in this team."}
    ]


def test_evaluators_are_listed_in_pages_for_viewers(api, cast, evaluator):
    later = EvaluatorFactory.create_batch(2, team=cast.team)
    EvaluatorFactory(team=cast.other_team, name="Hidden")
    client = api(Role.VIEWER)
    first = client.get("/evaluators", limit=2).json()
    rest = client.get("/evaluators", limit=2, cursor=first["next_cursor"]).json()
    assert [item["name"] for item in first["items"]] == ["Polite", later[0].name]
    assert [item["name"] for item in rest["items"]] == [later[1].name]
    assert rest["next_cursor"] is None
    assert client.get(f"/evaluators/{evaluator.pk}").json()["name"] == "Polite"


def test_patching_params_makes_a_version_and_a_rename_does_not(api, evaluator):
    client = api(Role.EDITOR)
    first = evaluator.version.digest
    renamed = client.patch(f"/evaluators/{evaluator.pk}", {"name": "Courteous"}).json()
    assert (renamed["name"], renamed["version"]["digest"]) == ("Courteous", first)
    changed = client.patch(f"/evaluators/{evaluator.pk}", {"params": {"words": ["cheers"]}})
    assert changed.json()["version"]["digest"] != first
    versions = client.get(f"/evaluators/{evaluator.pk}/versions").json()["items"]
    assert [v["params"]["words"] for v in versions] == [["cheers"], ["thanks", "please"]]


def test_patching_null_or_bad_params_is_422_and_changes_nothing(api, evaluator):
    client = api(Role.EDITOR)
    nulled = client.patch(f"/evaluators/{evaluator.pk}", {"name": None})
    assert locs(nulled) == [["body", "name"]]
    bad = client.patch(f"/evaluators/{evaluator.pk}", {"params": {"words": [""]}})
    assert locs(bad) == [["body", "params", "words", 0]]
    evaluator.refresh_from_db()
    assert evaluator.params["words"] == ["thanks", "please"]


def test_an_evaluator_used_by_an_unfinished_run_cannot_be_deleted(api, evaluator, dataset):
    client = api(Role.EDITOR)
    run = unfinished_run(evaluator, dataset)
    refused = client.delete(f"/evaluators/{evaluator.pk}")
    assert refused.status_code == 409
    assert "has not finished" in refused.json()["detail"][0]["msg"]
    finish(run)
    assert client.delete(f"/evaluators/{evaluator.pk}").status_code == 204
    assert not Evaluator.objects.filter(pk=evaluator.pk).exists()


def test_testing_answers_one_evaluation_and_stores_nothing(api, evaluator):
    client = api(Role.EDITOR)
    response = client.post(f"/evaluators/{evaluator.pk}/test", {"row": {"output": "Thanks!"}})
    assert response.status_code == 200
    answer = response.json()
    assert (answer["output"], answer["error"]) == ({"match": True}, "")
    assert answer["latency_ms"] >= 0
    empty = client.post(f"/evaluators/{evaluator.pk}/test", {})
    assert empty.json()["output"] == {"match": False}
    bad = client.post(f"/evaluators/{evaluator.pk}/test", {"row": {"outptu": "x"}})
    assert locs(bad) == [["body", "row", "outptu"]]


def test_testing_shows_an_error_result(api, cast):
    judged = EvaluatorFactory(team=cast.team, kind="json_valid", params={"schema": {"$ref": "#"}})
    answer = api(Role.EDITOR).post(f"/evaluators/{judged.pk}/test", {"row": {"output": "1"}})
    assert answer.json()["output"] is None
    assert "without end" in answer.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/evaluators", {"name": "X", "kind": "exact_match"}),
        ("patch", "/evaluators/{id}", {"name": "X"}),
        ("delete", "/evaluators/{id}", None),
        ("post", "/evaluators/{id}/test", {}),
    ],
)
def test_a_viewer_cannot_write_or_test(api, evaluator, method, path, body):
    client = api(Role.VIEWER)
    path = path.format(id=evaluator.pk)
    response = client.delete(path) if method == "delete" else getattr(client, method)(path, body)
    assert response.status_code == 403
    evaluator.refresh_from_db()
    assert evaluator.name == "Polite"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/evaluators/{id}"),
        ("get", "/evaluators/{id}/versions"),
        ("patch", "/evaluators/{id}"),
        ("delete", "/evaluators/{id}"),
        ("post", "/evaluators/{id}/test"),
    ],
)
def test_another_teams_evaluator_is_404(api, cast, evaluator, method, path):
    client = api(Role.OWNER, team=cast.other_team)
    path = path.format(id=evaluator.pk)
    send = getattr(client, method)
    response = send(path) if method in ("get", "delete") else send(path, {})
    assert response.status_code == 404
    assert Evaluator.objects.filter(pk=evaluator.pk, name="Polite").exists()
