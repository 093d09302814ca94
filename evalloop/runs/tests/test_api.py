from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from evalloop.datasets.tests.factories import DatasetFactory, RowFactory
from evalloop.runs import services
from evalloop.runs.forms import ConfigForm
from evalloop.runs.models import Config, Run, RunStatus, Trigger
from evalloop.runs.schemas import ConfigIn, ConfigPatch
from evalloop.runs.tests import scenes
from evalloop.teams.permissions import Role


@pytest.fixture
def judge(cast):
    return scenes.evaluator(cast.team, name="Judge")


@pytest.fixture
def dataset(cast):
    dataset = DatasetFactory(team=cast.team, name="Golden")
    RowFactory.create_batch(3, dataset=dataset)
    return dataset


@pytest.fixture
def cfg(cast, dataset, judge):
    return scenes.config(cast.team, dataset=dataset, evaluators=[judge])


def locs(response):
    return [problem["loc"] for problem in response.json()["detail"]]


# Configs


def test_an_editor_creates_a_config(api, dataset, judge):
    response = api().post(
        "/configs",
        {"name": "Tone", "dataset": dataset.pk, "evaluators": [judge.pk], "daily_row_cap": 100},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["dataset"] == dataset.pk
    assert body["evaluators"] == [{"id": judge.pk, "name": "Judge", "kind": "contains"}]
    assert (body["auto_run_on_append"], body["daily_row_cap"]) == (False, 100)
    assert body["min_minutes_between_runs"] is None


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"dataset": 999_999}, ["body", "dataset"]),
        ({"evaluators": [999_999]}, ["body", "evaluators", 0]),
        ({"evaluators": []}, ["body", "evaluators"]),
        ({"name": " "}, ["body", "name"]),
        ({"daily_row_cap": 0}, ["body", "daily_row_cap"]),
        ({"min_minutes_between_runs": -1}, ["body", "min_minutes_between_runs"]),
        ({"auto_run": True}, ["body", "auto_run"]),
    ],
)
def test_bad_config_input_is_a_422_naming_the_field(api, dataset, judge, change, loc):
    body = {"name": "Tone", "dataset": dataset.pk, "evaluators": [judge.pk], **change}
    response = api().post("/configs", body)
    assert response.status_code == 422
    assert loc in locs(response)
    assert not Config.objects.exists()


def maximum(schema, field):
    declared = schema["properties"][field]
    return next(each["maximum"] for each in declared.get("anyOf", [declared]) if "maximum" in each)


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("daily_row_cap", services.MAX_DAILY_ROW_CAP),
        ("min_minutes_between_runs", services.MAX_MINUTES_BETWEEN_RUNS),
    ],
)
def test_the_api_and_the_form_declare_the_limits_the_service_enforces(field, limit):
    assert maximum(ConfigIn.model_json_schema(), field) == limit
    assert maximum(ConfigPatch.model_json_schema(), field) == limit
    assert ConfigForm.base_fields[field].max_value == limit  # type: ignore[attr-defined]
    evaluators = ConfigIn.model_json_schema()["properties"]["evaluators"]
    assert evaluators["maxItems"] == services.MAX_EVALUATORS


def test_another_teams_dataset_or_evaluator_is_a_422_like_an_unknown_one(cast, api, judge):
    theirs = DatasetFactory(team=cast.other_team)
    their_judge = scenes.evaluator(cast.other_team, name="Theirs")
    mine = DatasetFactory(team=cast.team)
    response = api().post("/configs", {"name": "X", "dataset": theirs.pk, "evaluators": [judge.pk]})
    assert locs(response) == [["body", "dataset"]]
    response = api().post(
        "/configs", {"name": "X", "dataset": mine.pk, "evaluators": [judge.pk, their_judge.pk]}
    )
    assert locs(response) == [["body", "evaluators", 1]]
    assert not Config.objects.exists()


def test_a_taken_name_is_a_409(api, cfg, judge):
    body = {"name": cfg.name, "dataset": cfg.dataset_id, "evaluators": [judge.pk]}
    response = api().post("/configs", body)
    assert response.status_code == 409
    message = f"A config named '{cfg.name}' already exists in this team."
    assert response.json()["detail"] == [{"loc": ["body", "name"], "msg": message}]


def test_configs_are_listed_by_pages(cast, api):
    for n in range(3):
        scenes.config(cast.team, name=f"C{n}")
    scenes.config(cast.other_team, name="Hidden")
    first = api(Role.VIEWER).get("/configs", limit=2).json()
    assert [item["name"] for item in first["items"]] == ["C0", "C1"]
    rest = api(Role.VIEWER).get("/configs", limit=2, cursor=first["next_cursor"]).json()
    assert [item["name"] for item in rest["items"]] == ["C2"]
    assert rest["next_cursor"] is None
    assert api().get("/configs", cursor="nonsense").status_code == 422


def test_patch_changes_only_the_given_fields(api, cfg, judge):
    other = scenes.evaluator(cfg.team, name="Other")
    response = api().patch(
        f"/configs/{cfg.pk}", {"auto_run_on_append": True, "evaluators": [other.pk, judge.pk]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Quality"
    assert body["auto_run_on_append"] is True
    assert {e["name"] for e in body["evaluators"]} == {"Judge", "Other"}


def test_patch_clears_a_limit_with_null_but_refuses_a_null_name(api, cast, dataset, judge):
    cfg = scenes.config(cast.team, dataset=dataset, evaluators=[judge], daily_row_cap=5)
    response = api().patch(f"/configs/{cfg.pk}", {"daily_row_cap": None})
    assert response.json()["daily_row_cap"] is None
    response = api().patch(f"/configs/{cfg.pk}", {"name": None})
    assert response.status_code == 422
    assert locs(response) == [["body", "name"]]


def test_delete_is_a_409_while_a_run_is_unfinished(api, cfg):
    made = scenes.run(cfg, status=RunStatus.RUNNING)
    assert api().delete(f"/configs/{cfg.pk}").status_code == 409
    Run.objects.filter(pk=made.pk).update(status=RunStatus.COMPLETED)
    assert api().delete(f"/configs/{cfg.pk}").status_code == 204
    assert not Config.objects.exists()


# Runs


def test_an_editor_starts_a_full_run(api, cfg):
    response = api().post(f"/configs/{cfg.pk}/runs", {"type": "full"})
    assert response.status_code == 201
    body = response.json()
    assert (body["type"], body["status"], body["scope_size"]) == ("full", "pending", 3)
    assert body["progress"] == {"done": 0, "total": 3}
    run = Run.objects.get()
    assert run.trigger == Trigger.API
    assert run.trigger_label == "API key editor key"


def test_a_preview_takes_a_sample(api, cfg):
    response = api().post(f"/configs/{cfg.pk}/runs", {"type": "preview", "sample_size": 2})
    assert response.json()["scope_size"] == 2


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"type": "delta"}, ["body", "type"]),
        ({"type": "full", "row_ids": [1]}, ["body", "row_ids"]),
        ({"type": "preview", "sample_size": 0}, ["body", "sample_size"]),
    ],
)
def test_a_delta_run_or_bad_options_are_422(api, cfg, body, loc):
    response = api().post(f"/configs/{cfg.pk}/runs", body)
    assert response.status_code == 422
    assert loc in locs(response)
    assert not Run.objects.exists()


def test_a_run_of_an_empty_dataset_is_a_409(cast, api, judge):
    empty = scenes.config(cast.team, name="Empty", evaluators=[judge])
    response = api().post(f"/configs/{empty.pk}/runs", {"type": "full"})
    assert response.status_code == 409
    assert "no rows" in response.json()["detail"][0]["msg"]


def test_the_run_history_is_newest_first_with_progress(api, cfg):
    older = scenes.run(cfg, rows=1)
    newer = scenes.run(cfg, rows=2, status=RunStatus.RUNNING)
    items = api(Role.VIEWER).get(f"/configs/{cfg.pk}/runs").json()["items"]
    assert [item["id"] for item in items] == [newer.pk, older.pk]
    assert items[0]["progress"] == {"done": 0, "total": 2}
    assert {"trigger", "trigger_label", "started_at", "errors", "cost"} <= items[0].keys()


def test_a_run_answers_its_aggregates(api, cfg, judge):
    made = scenes.run(cfg, rows=1)
    scenes.aggregate(made, judge.version, "score", "number", count=1, mean=0.5, minimum=0.5)
    scenes.aggregate(made, judge.version, "ok", "boolean", count=4, true_count=3)
    body = api(Role.VIEWER).get(f"/runs/{made.pk}").json()
    score, ok = body["aggregates"]
    assert (score["field"], score["mean"], score["min"]) == ("score", 0.5, 0.5)
    assert score["evaluator_id"] == judge.pk
    assert score["evaluator_version"] == judge.version.digest
    assert (ok["true_rate"], ok["true_count"]) == (0.75, 3)


def test_results_are_one_per_row_and_evaluator_by_pages(api, cfg, judge):
    made = scenes.run(cfg, rows=3)
    rows, (version,) = scenes.plan(made)
    for row in rows[:2]:
        scenes.result(made, row, version, {"score": 1, "ok": True})
    scenes.result(made, rows[2], version, error="timeout")
    first = api(Role.VIEWER).get(f"/runs/{made.pk}/results", limit=2).json()
    assert [item["row_id"] for item in first["items"]] == [rows[0].pk, rows[1].pk]
    assert first["items"][0]["evaluator_id"] == judge.pk
    assert first["items"][0]["evaluator_version"] == version.digest
    assert first["items"][0]["output"] == {"score": 1, "ok": True}
    rest = api(Role.VIEWER).get(f"/runs/{made.pk}/results", cursor=first["next_cursor"]).json()
    assert rest["items"][0]["error"] == "timeout"
    assert rest["items"][0]["output"] is None


def test_cancel_and_rerun_failed_answer_409_when_not_allowed(api, cfg):
    made = scenes.run(cfg, rows=1, status=RunStatus.RUNNING)
    assert api().post(f"/runs/{made.pk}/rerun-failed").status_code == 409
    response = api().post(f"/runs/{made.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert api().post(f"/runs/{made.pk}/cancel").status_code == 409
    assert api().post(f"/runs/{made.pk}/rerun-failed").status_code == 409  # cancelled


def test_rerun_failed_reopens_the_run(api, cfg):
    made = scenes.run(cfg, rows=1)
    (row,), (version,) = scenes.plan(made)
    scenes.result(made, row, version, error="timeout")
    response = api().post(f"/runs/{made.pk}/rerun-failed")
    assert response.status_code == 200
    assert response.json()["status"] == "pending"


def test_the_csv_is_streamed_with_formulas_neutralised(api, cfg):
    row = RowFactory.create(dataset=cfg.dataset, input="=cmd|' /C calc'!A0")
    made = scenes.run(cfg, rows=[row])
    (version,) = scenes.plan(made)[1]
    scenes.result(made, row, version, {"score": 2, "ok": False})
    response = api(Role.VIEWER).get(f"/runs/{made.pk}/csv")
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    header, line = list(csv.reader(io.StringIO(text)))
    assert line[1] == "'=cmd|' /C calc'!A0"
    assert line[header.index("Judge.score")] == "2"


# Trend


def test_the_trend_has_a_series_per_version_and_field(api, cfg, judge):
    made = scenes.run(cfg, rows=1, finished_at=timezone.now() - timedelta(days=2))
    scenes.aggregate(made, judge.version, "score", "number", count=1, mean=0.5)
    newer = scenes.version_of(judge, "judge02")
    later = scenes.run(cfg, rows=1)
    scenes.aggregate(later, newer, "score", "number", count=3, mean=0.9)
    body = api(Role.VIEWER).get(f"/configs/{cfg.pk}/trend", days=7).json()
    assert body["days"] == 7
    assert [(s["evaluator_version"], s["field"]) for s in body["series"]] == [
        ("judge01", "score"),
        ("judge02", "score"),
    ]
    assert body["series"][1]["points"][0]["value"] == 0.9
    assert body["series"][1]["points"][0]["run_id"] == later.pk


@pytest.mark.parametrize("days", [0, 366, "x"])
def test_the_trend_period_is_bounded(api, cfg, days):
    response = api(Role.VIEWER).get(f"/configs/{cfg.pk}/trend", days=days)
    assert response.status_code == 422
    assert locs(response) == [["query", "days"]]


# Roles and teams


def test_a_viewer_reads_but_cannot_write(api, cfg, dataset, judge):
    made = scenes.run(cfg, status=RunStatus.RUNNING)
    viewer = api(Role.VIEWER)
    assert viewer.get(f"/configs/{cfg.pk}").status_code == 200
    assert viewer.get(f"/runs/{made.pk}").status_code == 200
    body = {"name": "X", "dataset": dataset.pk, "evaluators": [judge.pk]}
    for response in (
        viewer.post("/configs", body),
        viewer.patch(f"/configs/{cfg.pk}", {"name": "Y"}),
        viewer.delete(f"/configs/{cfg.pk}"),
        viewer.post(f"/configs/{cfg.pk}/runs", {"type": "full"}),
        viewer.post(f"/runs/{made.pk}/cancel"),
        viewer.post(f"/runs/{made.pk}/rerun-failed"),
    ):
        assert response.status_code == 403
    assert Config.objects.get().name == "Quality"
    assert Run.objects.get().status == RunStatus.RUNNING


def test_an_outsider_gets_404_everywhere(cast, api, cfg):
    made = scenes.run(cfg)
    outsider = api(Role.OWNER, team=cast.other_team)
    assert outsider.get("/configs").json()["items"] == []
    for response in (
        outsider.get(f"/configs/{cfg.pk}"),
        outsider.patch(f"/configs/{cfg.pk}", {"name": "Mine"}),
        outsider.delete(f"/configs/{cfg.pk}"),
        outsider.post(f"/configs/{cfg.pk}/runs", {"type": "full"}),
        outsider.get(f"/configs/{cfg.pk}/runs"),
        outsider.get(f"/configs/{cfg.pk}/trend"),
        outsider.get(f"/runs/{made.pk}"),
        outsider.get(f"/runs/{made.pk}/results"),
        outsider.post(f"/runs/{made.pk}/cancel"),
        outsider.post(f"/runs/{made.pk}/rerun-failed"),
        outsider.get(f"/runs/{made.pk}/csv"),
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": [{"loc": [], "msg": "Not found."}]}
    assert Config.objects.get().name == "Quality"
