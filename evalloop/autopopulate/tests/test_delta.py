"""Delta runs of appended rows, within each config's minimum interval and daily cap."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from evalloop.autopopulate import delta, tick
from evalloop.autopopulate.models import CappedDay, PendingRow
from evalloop.autopopulate.tests.traffic import later, session
from evalloop.runs.models import Run, RunStatus, RunType, Trigger
from evalloop.runs.tests.conftest import fake_kinds  # noqa: F401 (an autouse fixture)
from evalloop.runs.tests.factories import make_config, make_evaluator
from evalloop.teams import flags
from evalloop.teams import services as teams


def plan(run):
    return sorted(run.plan_rows.values_list("row_id", flat=True))


def delta_runs(config):
    return list(Run.objects.filter(config=config, type=RunType.DELTA).order_by("id"))


@pytest.fixture
def config(dataset):
    def _config(**options):
        evaluator = make_evaluator(dataset.team)
        return make_config(dataset, evaluator, auto_run_on_append=True, **options)

    return _config


def test_a_delta_run_holds_exactly_the_rows_just_appended(make_rule, chatbot, dataset, config):
    auto = config()
    quiet = make_config(dataset, make_evaluator(dataset.team, name="manual"), name="Manual")
    rule = make_rule()
    dataset.rows.create(input="by hand")
    session(chatbot), session(chatbot)
    tick.tick(now=later())
    [run] = delta_runs(auto)
    assert plan(run) == sorted(dataset.rows.filter(rule=rule).values_list("id", flat=True))
    assert run.status == RunStatus.PENDING
    assert run.trigger == Trigger.RULE
    assert "Support" in run.trigger_label
    assert delta_runs(quiet) == []


def test_no_match_starts_no_run(make_rule, chatbot, config):
    auto = config()
    make_rule(filter=[{"field": "tags", "op": "any_of", "value": ["vip"]}])
    session(chatbot)
    tick.tick(now=later())
    assert delta_runs(auto) == []


def test_rows_appended_within_the_interval_join_the_next_run(make_rule, chatbot, config):
    auto = config(min_minutes_between_runs=10)
    make_rule()
    session(chatbot)
    tick.tick(now=later())
    second = session(chatbot)
    tick.tick(now=later(minutes=1))
    assert len(delta_runs(auto)) == 1
    assert PendingRow.objects.filter(config=auto).count() == 1
    tick.tick(now=later(minutes=5))  # still waiting, nothing new
    assert len(delta_runs(auto)) == 1
    tick.tick(now=later(minutes=11))
    _, next_run = delta_runs(auto)
    [waited] = plan(next_run)
    assert auto.dataset.rows.get(pk=waited).source_session_id == second.pk
    assert not PendingRow.objects.exists()


def test_rows_past_the_daily_cap_are_counted_not_evaluated(make_rule, chatbot, config):
    auto = config(daily_row_cap=3)
    make_rule()
    for _ in range(2):
        session(chatbot)
    tick.tick(now=later())
    for _ in range(2):
        session(chatbot)
    tick.tick(now=later())
    session(chatbot)
    tick.tick(now=later())
    assert [len(plan(run)) for run in delta_runs(auto)] == [2, 1]
    [capped] = CappedDay.objects.filter(config=auto)
    assert capped.rows == 2
    assert "daily cap of 3" in capped.reason


def test_a_config_that_cannot_run_does_not_stop_the_rows(make_rule, chatbot, dataset, config):
    auto = config()
    auto.evaluators.clear()
    make_rule()
    session(chatbot)
    [summary] = tick.tick(now=later())
    assert summary.counts.appended == 1
    assert delta_runs(auto) == []


def a_row_waiting(make_rule, chatbot, config):
    """Answer a config whose first row started a delta run and whose second waits its turn."""
    auto = config(min_minutes_between_runs=10)
    make_rule()
    for _ in range(2):
        session(chatbot)
        tick.tick(now=later())
    assert len(delta_runs(auto)) == 1
    assert PendingRow.objects.count() == 1
    return auto


def test_waiting_rows_of_a_config_switched_off_are_dropped(make_rule, chatbot, config):
    auto = a_row_waiting(make_rule, chatbot, config)
    auto.auto_run_on_append = False
    auto.save()
    delta.flush_due(now=later(minutes=11) + timedelta(minutes=1))
    assert len(delta_runs(auto)) == 1
    assert not PendingRow.objects.exists()


def test_waiting_rows_of_a_team_with_the_flag_off_keep_waiting(make_rule, chatbot, config, cast):
    auto = a_row_waiting(make_rule, chatbot, config)
    teams.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=False)
    tick.tick(now=later(minutes=12))
    assert len(delta_runs(auto)) == 1
    assert PendingRow.objects.filter(config=auto).count() == 1
    teams.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=True)
    tick.tick(now=later(minutes=12))
    assert len(delta_runs(auto)) == 2
    assert not PendingRow.objects.exists()


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/Los_Angeles"])
def test_the_daily_cap_counts_the_utc_day_whatever_the_time_zone(
    make_rule, chatbot, config, settings, zone
):
    settings.TIME_ZONE = zone
    auto = config(daily_row_cap=3)
    make_rule()
    midnight = datetime.combine(timezone.now().astimezone(UTC).date(), time.min, tzinfo=UTC)
    yesterday = Run.objects.create(
        team=auto.team, config=auto, type=RunType.DELTA, trigger=Trigger.RULE, scope_size=3
    )
    Run.objects.filter(pk=yesterday.pk).update(created_at=midnight - timedelta(hours=1))
    session(chatbot)
    tick.tick(now=later())
    assert [len(plan(run)) for run in delta_runs(auto)][1:] == [1]
    assert not CappedDay.objects.filter(config=auto).exists()
