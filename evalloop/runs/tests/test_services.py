from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from evalloop.datasets.models import Row
from evalloop.datasets.tests.factories import DatasetFactory
from evalloop.lib.errors import Conflict
from evalloop.runs import batches, coordinator, services
from evalloop.runs.models import Batch, Config, Result, Run, RunStatus, RunType, Trigger
from evalloop.runs.tests.factories import (
    add_rows,
    finish,
    make_config,
    make_evaluator,
    new_version,
    start,
)


def error_of(exc_info, field):
    return exc_info.value.message_dict[field]


# Configs


def test_a_config_binds_a_dataset_to_evaluators(cast, dataset):
    evaluator = make_evaluator(cast.team)
    config = services.create_config(
        team=cast.team,
        name=" Nightly ",
        dataset=dataset,
        evaluators=[evaluator, evaluator],
        daily_row_cap=500,
        created_by=cast.editor,
    )
    assert config.name == "Nightly"
    assert list(config.evaluators.all()) == [evaluator]
    assert (config.auto_run_on_append, config.daily_row_cap) == (False, 500)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"evaluators": []}, "evaluators"),
        ({"daily_row_cap": 0}, "daily_row_cap"),
        ({"daily_row_cap": 10**9}, "daily_row_cap"),
        ({"min_minutes_between_runs": -1}, "min_minutes_between_runs"),
        ({"min_minutes_between_runs": True}, "min_minutes_between_runs"),
    ],
)
def test_a_config_refuses_bad_input_naming_the_field(cast, dataset, changes, field):
    values = {"name": "Nightly", "evaluators": [make_evaluator(cast.team)], **changes}
    with pytest.raises(ValidationError) as exc_info:
        services.create_config(team=cast.team, dataset=dataset, **values)
    assert error_of(exc_info, field)
    assert not Config.objects.exists()


def test_a_config_refuses_another_teams_dataset_or_evaluator(cast, dataset):
    theirs = DatasetFactory(team=cast.other_team)
    ours = [make_evaluator(cast.team)]
    with pytest.raises(ValidationError) as exc_info:
        services.create_config(team=cast.team, name="N", dataset=theirs, evaluators=ours)
    assert error_of(exc_info, "dataset") == ["No such dataset in this team."]
    with pytest.raises(ValidationError) as exc_info:
        make_config(dataset, make_evaluator(cast.other_team))
    assert error_of(exc_info, "evaluators") == ["No such evaluator in this team."]


def test_a_config_name_is_unique_per_team(cast, dataset):
    make_config(dataset, make_evaluator(cast.team))
    with pytest.raises(Conflict, match="name"):
        make_config(dataset, make_evaluator(cast.team, name="other"))


def test_updating_a_config_changes_only_the_given_fields(cast, dataset):
    first, second = make_evaluator(cast.team), make_evaluator(cast.team, name="second")
    config = make_config(dataset, first, daily_row_cap=10, auto_run_on_append=True)
    services.update_config(config=config, evaluators=[second], daily_row_cap=None)
    config.refresh_from_db()
    assert list(config.evaluators.all()) == [second]
    assert (config.name, config.daily_row_cap, config.auto_run_on_append) == (
        "Nightly",
        None,
        True,
    )


def test_renaming_a_config_to_a_taken_name_is_a_conflict(cast, dataset):
    make_config(dataset, make_evaluator(cast.team), name="Taken")
    config = make_config(dataset, make_evaluator(cast.team, name="b"), name="Mine")
    with pytest.raises(Conflict):
        services.update_config(config=config, name="Taken")
    services.update_config(config=config, name="Mine")  # its own name is free


def test_a_config_cannot_be_deleted_while_a_run_is_unfinished(cast, dataset, sent):
    add_rows(dataset, "a")
    config = make_config(dataset, make_evaluator(cast.team))
    run = start(config)
    with pytest.raises(Conflict):
        services.delete_config(config=config)
    finish(run, sent)
    services.delete_config(config=config)
    assert not Config.objects.exists()


# Starting runs


def test_a_full_run_freezes_every_row_and_each_evaluators_current_version(cast, dataset):
    rows = add_rows(dataset, "a", "b", "c")
    evaluator = make_evaluator(cast.team)
    config = make_config(dataset, evaluator)
    run = start(config)
    new_version(evaluator, strict=True)  # an edit after the start does not join the run
    assert list(run.plan_rows.values_list("row_id", "position")) == [
        (rows[0], 0),
        (rows[1], 1),
        (rows[2], 2),
    ]
    assert list(run.plan_evaluators.values_list("version_id", flat=True)) == [
        evaluator.versions.order_by("id").first().pk
    ]
    assert list(run.batches.values_list("first_position", "last_position")) == [(0, 1), (2, 2)]
    assert (run.status, run.trigger, run.scope_size, run.total) == ("pending", "user", 3, 3)


def test_a_preview_takes_a_random_sample_of_the_rows(cast, dataset):
    rows = set(add_rows(dataset, *"abcdefgh"))
    run = start(make_config(dataset, make_evaluator(cast.team)), RunType.PREVIEW, sample_size=3)
    picked = set(run.plan_rows.values_list("row_id", flat=True))
    assert len(picked) == run.scope_size == 3
    assert picked <= rows


def test_a_delta_run_takes_the_given_rows_only(cast, dataset):
    rows = add_rows(dataset, "a", "b", "c")
    config = make_config(dataset, make_evaluator(cast.team))
    run = start(config, RunType.DELTA, row_ids=[rows[2], rows[0]])
    assert list(run.plan_rows.values_list("row_id", flat=True)) == [rows[0], rows[2]]


def test_a_delta_run_refuses_rows_of_another_dataset(cast, dataset):
    add_rows(dataset, "a")
    elsewhere = add_rows(DatasetFactory(team=cast.team), "b")
    config = make_config(dataset, make_evaluator(cast.team))
    with pytest.raises(ValidationError) as exc_info:
        start(config, RunType.DELTA, row_ids=elsewhere)
    assert error_of(exc_info, "row_ids")
    assert not Run.objects.exists()


def test_a_run_of_an_empty_dataset_is_refused_and_leaves_nothing(cast, dataset):
    config = make_config(dataset, make_evaluator(cast.team))
    with pytest.raises(ValidationError) as exc_info:
        start(config)
    assert error_of(exc_info, "dataset") == ["The dataset has no rows to evaluate."]
    assert not Run.objects.exists()


def test_a_run_of_a_config_without_evaluators_is_refused(cast, dataset):
    add_rows(dataset, "a")
    evaluator = make_evaluator(cast.team)
    config = make_config(dataset, evaluator)
    evaluator.delete()
    with pytest.raises(ValidationError) as exc_info:
        start(config)
    assert "no evaluators" in error_of(exc_info, "evaluators")[0]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"type": "nightly"}, "type"),
        ({"trigger": "cron"}, "trigger"),
        ({"type": RunType.PREVIEW, "sample_size": 0}, "sample_size"),
        ({"type": RunType.FULL, "row_ids": [1]}, "row_ids"),
        ({"type": RunType.DELTA}, "row_ids"),
    ],
)
def test_a_bad_run_request_is_refused_naming_the_field(cast, dataset, options, field):
    add_rows(dataset, "a")
    config = make_config(dataset, make_evaluator(cast.team))
    values = {"type": RunType.FULL, "trigger": Trigger.API, **options}
    with pytest.raises(ValidationError) as exc_info:
        services.start_run(config=config, **values)
    assert error_of(exc_info, field)


def test_the_trigger_says_who_started_the_run(cast, dataset):
    add_rows(dataset, "a")
    config = make_config(dataset, make_evaluator(cast.team))
    run = start(config, triggered_by=cast.editor)
    assert (run.triggered_by, run.trigger_label) == (cast.editor, "editor@a.example")


def test_starting_a_run_kicks_the_coordinator_on_commit(
    cast, dataset, django_capture_on_commit_callbacks
):
    add_rows(dataset, "a")
    config = make_config(dataset, make_evaluator(cast.team))
    with django_capture_on_commit_callbacks() as callbacks:
        start(config)
    assert len(callbacks) == 1


# Cancel


def test_cancelling_marks_the_run_and_a_finished_run_cannot_be_cancelled(cast, dataset, sent):
    add_rows(dataset, "a")
    run = start(make_config(dataset, make_evaluator(cast.team)))
    services.cancel_run(run=run)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert run.finished_at is not None
    with pytest.raises(Conflict):
        services.cancel_run(run=run)


# Re-run failed


@pytest.fixture
def failed_run(cast, dataset, sent):
    add_rows(dataset, "good", "bad one", "fine", "bad two", "ok")
    config = make_config(
        dataset, make_evaluator(cast.team, "length"), make_evaluator(cast.team, "picky")
    )
    return finish(start(config), sent)


def test_re_running_failures_re_evaluates_only_the_error_pairs(failed_run, sent, fake_kinds):
    assert (failed_run.status, failed_run.done, failed_run.errors) == ("completed", 10, 2)
    kept = set(Result.objects.filter(run=failed_run, error="").values_list("pk", flat=True))
    fake_kinds["picky"].seen.clear()
    fake_kinds["length"].seen.clear()
    fake_kinds["picky"].answer = lambda row: fake_kinds["length"].answer(row)

    run = services.rerun_failed(run=failed_run)
    assert (run.status, run.done, run.errors, run.finished_at) == ("pending", 8, 0, None)
    assert Batch.objects.filter(run=run, status="pending").count() == 2
    run = finish(run, sent)

    assert (run.status, run.done, run.errors) == ("completed", 10, 0)
    assert sorted(row["output"] for row in fake_kinds["picky"].seen) == ["bad one", "bad two"]
    assert fake_kinds["length"].seen == []
    assert kept <= set(Result.objects.filter(run=run).values_list("pk", flat=True))


def test_re_running_failures_needs_a_finished_run_with_errors(
    cast, dataset, sent, failed_run, fake_kinds
):
    add_rows(dataset, "a")
    unfinished = start(failed_run.config)
    with pytest.raises(Conflict, match="unfinished"):
        services.rerun_failed(run=unfinished)
    run = services.rerun_failed(run=failed_run)
    fake_kinds["picky"].answer = fake_kinds["length"].answer
    run = finish(run, sent)
    with pytest.raises(Conflict, match="no failed"):
        services.rerun_failed(run=run)


def test_re_running_failures_of_a_cancelled_run_is_refused(cast, dataset, sent, fake_kinds):
    # Re-opening it would also evaluate every pair the cancel stopped, not just the failures.
    add_rows(dataset, "bad one", "ok", "fine", "good")
    run = start(make_config(dataset, make_evaluator(cast.team, "picky")))
    coordinator.tick()
    batches.run_batch(batch_id=sent.pop(0))  # the first batch, with the failure, is done
    services.cancel_run(run=run)
    run.refresh_from_db()
    assert (run.status, run.done, run.errors) == ("cancelled", 2, 1)

    with pytest.raises(Conflict, match="cancelled"):
        services.rerun_failed(run=run)
    run.refresh_from_db()
    assert (run.status, run.done) == ("cancelled", 2)


# Deletion guards


@pytest.fixture
def busy_run(cast, dataset):
    rows = add_rows(dataset, "a", "b")
    return start(make_config(dataset, make_evaluator(cast.team)), RunType.DELTA, row_ids=rows[:1])


def test_a_dataset_in_use_by_an_unfinished_run_is_a_409(busy_run, api, dataset):
    response = api().delete(f"/datasets/{dataset.pk}")
    assert response.status_code == 409
    assert "unfinished" in response.json()["detail"][0]["msg"]
    services.cancel_run(run=busy_run)
    assert api().delete(f"/datasets/{dataset.pk}").status_code == 204


def test_a_dataset_stays_in_use_when_its_config_moves_to_another_mid_run(
    busy_run, api, cast, dataset
):
    elsewhere = DatasetFactory(team=cast.team, name="Elsewhere")
    services.update_config(config=busy_run.config, dataset=elsewhere)
    assert api().delete(f"/datasets/{dataset.pk}").status_code == 409
    assert busy_run.plan_rows.exists()


def test_a_row_in_an_unfinished_runs_plan_is_a_409_and_other_rows_go(busy_run, api, dataset):
    planned, other = dataset.rows.order_by("pk").values_list("pk", flat=True)
    assert api().delete(f"/datasets/{dataset.pk}/rows/{planned}").status_code == 409
    assert api().delete(f"/datasets/{dataset.pk}/rows/{other}").status_code == 204
    assert Row.objects.filter(pk=planned).exists()


def test_deleting_a_row_in_use_in_the_ui_says_why(busy_run, login, cast, dataset):
    planned = busy_run.plan_rows.get().row_id
    response = login(cast.editor).post(
        f"/datasets/{dataset.pk}/rows/{planned}/delete/", follow=True
    )
    assert response.status_code == 200
    assert "unfinished run" in response.content.decode()
    assert Row.objects.filter(pk=planned).exists()


def test_deleting_a_dataset_in_use_in_the_ui_says_why(busy_run, login, cast, dataset):
    response = login(cast.editor).post(f"/datasets/{dataset.pk}/delete/", follow=True)
    assert "unfinished" in response.content.decode()
    assert Row.objects.filter(dataset=dataset).exists()
