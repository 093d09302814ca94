from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from evalloop.runs import aggregates, services, trends
from evalloop.runs.models import Run, RunType
from evalloop.runs.tests.factories import (
    EVERY_TYPE,
    add_rows,
    finish,
    make_config,
    make_evaluator,
    new_version,
    start,
)


@pytest.fixture
def evaluator(cast):
    return make_evaluator(cast.team, "every_type", name="Judge", schema=EVERY_TYPE)


@pytest.fixture
def config(dataset, evaluator):
    add_rows(dataset, "a", "bb", "ccc", "dddd")
    return make_config(dataset, evaluator)


def finished(config, sent, type=RunType.FULL, **options):
    run = finish(start(config, type, **options), sent)
    aggregates.compute_aggregates(run=run)
    return run


def test_a_trend_has_a_series_per_numeric_or_boolean_field_with_a_point_per_run(config, sent):
    first, second = finished(config, sent), finished(config, sent)
    series = trends.config_trend(config=config)
    assert [(s.name, s.field, s.field_type) for s in series] == [
        ("Judge", "score", "number"),
        ("Judge", "passed", "boolean"),
    ]
    score, passed = series
    assert [point.run_id for point in score.points] == [first.pk, second.pk]
    assert score.points[0].value == pytest.approx(2.5)
    assert score.points[0].count == 4
    assert passed.points[0].value == pytest.approx(0.5)  # the true rate


def test_a_new_evaluator_version_starts_a_new_series(config, evaluator, sent):
    finished(config, sent)
    old = evaluator.version
    new = new_version(evaluator, strict=True)
    finished(config, sent)
    series = trends.config_trend(config=config)
    assert [(s.digest, s.field) for s in series] == [
        (old.digest, "score"),
        (old.digest, "passed"),
        (new.digest, "score"),
        (new.digest, "passed"),
    ]
    assert all(len(s.points) == 1 for s in series)


def test_delta_runs_count_and_previews_and_unfinished_runs_do_not(config, dataset, sent):
    full = finished(config, sent)
    delta = finished(
        config, sent, RunType.DELTA, row_ids=list(dataset.rows.values_list("pk", flat=True))[:1]
    )
    finished(config, sent, RunType.PREVIEW, sample_size=2)
    services.cancel_run(run=start(config))
    score = trends.config_trend(config=config)[0]
    assert [(p.run_id, p.run_type) for p in score.points] == [
        (full.pk, "full"),
        (delta.pk, "delta"),
    ]


def test_runs_older_than_the_window_are_left_out(config, sent):
    old = finished(config, sent)
    Run.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(days=40))
    recent = finished(config, sent)
    score = trends.config_trend(config=config, days=30)[0]
    assert [point.run_id for point in score.points] == [recent.pk]
