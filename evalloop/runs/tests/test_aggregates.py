from __future__ import annotations

import statistics

import pytest

from evalloop.runs import aggregates, services
from evalloop.runs.models import Aggregate, Run
from evalloop.runs.tests.factories import (
    EVERY_TYPE,
    add_rows,
    finish,
    make_config,
    make_evaluator,
    start,
)


@pytest.fixture
def finished(cast, dataset, django_capture_on_commit_callbacks):
    add_rows(dataset, "a", "bb", "ccc", "dddd", "eeeeee", "bad")
    config = make_config(dataset, make_evaluator(cast.team, "every_type", schema=EVERY_TYPE))
    with django_capture_on_commit_callbacks(execute=True):
        run = start(config)
    run.refresh_from_db()
    return run


def figures(run):
    return {aggregate.field: aggregate for aggregate in aggregates.run_aggregates(run)}


def test_numbers_have_count_mean_median_extremes_and_spread(finished):
    score = figures(finished)["score"]
    sizes = [1, 2, 3, 4, 6]
    assert (score.field_type, score.count, score.errors) == ("number", 5, 1)
    assert score.mean == pytest.approx(statistics.mean(sizes))
    assert score.median == 3
    assert (score.minimum, score.maximum) == (1, 6)
    assert score.stddev == pytest.approx(statistics.pstdev(sizes))


def test_booleans_have_the_true_count_and_rate(finished):
    passed = figures(finished)["passed"]
    assert (passed.count, passed.true_count, passed.errors) == (5, 3, 1)
    assert passed.true_rate == pytest.approx(0.6)


def test_categories_have_their_distribution(finished):
    mood = figures(finished)["mood"]
    assert mood.distribution == {"long": 3, "short": 2}
    assert mood.count == 5


def test_text_is_counted_only(finished):
    note = figures(finished)["note"]
    assert (note.count, note.mean, note.distribution) == (5, None, {})


def test_the_median_of_an_even_count_is_the_middle_pair_s_mean(cast, dataset, sent):
    add_rows(dataset, "a", "bb", "cccc", "dddddddd")
    config = make_config(dataset, make_evaluator(cast.team, "length"))
    run = finish(start(config), sent)
    aggregates.compute_aggregates(run=run)
    assert figures(run)["score"].median == 3


def test_computing_again_replaces_the_aggregates(finished):
    aggregates.compute_aggregates(run=finished)
    assert Aggregate.objects.filter(run=finished).count() == 4


def test_a_run_re_opened_meanwhile_keeps_no_stale_aggregates(finished):
    run = services.rerun_failed(run=finished)
    aggregates.compute_aggregates(run=run)
    run = Run.objects.get(pk=run.pk)
    assert run.finalized_at is None
    assert not run.aggregates.exists()
