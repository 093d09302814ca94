"""The dashboard's recent runs with their headline aggregates, and the auto-running trends."""

from __future__ import annotations

import re

from django.urls import reverse

from evalloop.evaluators.tests.factories import EvaluatorFactory
from evalloop.runs.models import Run, RunType
from evalloop.web import dashboard
from evalloop.web.tests.conftest import run_to_the_end

HOME = reverse("home")


def run_item(html: str, run_id: int) -> str:
    found = re.search(rf'<li data-run="{run_id}">(.*?)</ul>', html, re.S)
    assert found, f"run {run_id} is not listed"
    return found.group(1)


def test_it_lists_the_latest_runs_newest_first_with_status_and_aggregates(cast, scored, sent):
    config = scored()
    first = run_to_the_end(config, sent)
    second = run_to_the_end(config, sent)
    pending = Run.objects.create(team=cast.team, config=config, type=RunType.FULL)

    recent = dashboard.recent_runs(cast.team)
    assert [each.run.pk for each in recent] == [pending.pk, second.pk, first.pk]
    assert recent[0].headlines == []
    fields = [(agg.field, agg.mean, agg.true_rate) for agg in recent[1].headlines]
    assert fields == [("length", 3.0, None), ("within", None, 0.5)]


def test_the_page_links_each_run_and_shows_its_headline_figures(cast, scored, sent, login):
    run = run_to_the_end(scored("Politeness"), sent)
    html = login(cast.viewer).get(HOME).content.decode()
    item = run_item(html, run.pk)
    assert f'<a href="{reverse("runs:run-detail", args=[run.pk])}">#{run.pk} Politeness</a>' in item
    assert 'data-testid="run-status">completed<' in item
    assert "mean <strong>3.000</strong>" in item
    assert "<strong>50%</strong> true" in item


def test_only_the_first_aggregates_of_a_run_are_headlines(cast, scored, sent, monkeypatch):
    monkeypatch.setattr(dashboard, "HEADLINES", 1)
    run_to_the_end(scored(), sent)
    [recent] = dashboard.recent_runs(cast.team)
    assert [agg.field for agg in recent.headlines] == ["length"]
    assert recent.more == 1


def test_only_the_latest_runs_are_listed(cast, scored, sent, monkeypatch):
    monkeypatch.setattr(dashboard, "RECENT_RUNS", 2)
    config = scored()
    runs = [run_to_the_end(config, sent) for _ in range(3)]
    assert [each.run for each in dashboard.recent_runs(cast.team)] == runs[:0:-1]


def test_without_runs_the_panel_says_how_to_start_one(cast, login):
    html = login(cast.editor).get(HOME).content.decode()
    assert "No runs yet." in html
    assert f'<a href="{reverse("runs:config-list")}">create a config</a> and press Run' in html


def test_an_auto_running_config_draws_each_field_over_its_runs(cast, scored, sent):
    auto = scored("Every append", outputs=("ab",), auto_run_on_append=True)
    scored("By hand")  # not auto-running: not drawn
    run_to_the_end(auto, sent)
    auto.dataset.rows.create(output="abcdef")
    run_to_the_end(auto, sent)
    run_to_the_end(auto, sent, type=RunType.PREVIEW, sample_size=1)  # previews are not trends

    [trend] = dashboard.auto_run_trends(cast.team).listed
    assert trend.config == auto
    assert [(s.series.field, s.values) for s in trend.sparks] == [
        ("length", [2.0, 4.0]),
        ("within", [1.0, 0.5]),
    ]
    assert [s.latest for s in trend.sparks] == ["4", "50%"]


def test_a_sparkline_draws_only_the_latest_runs(cast, scored, sent, monkeypatch):
    monkeypatch.setattr(dashboard, "SPARK_RUNS", 2)
    config = scored(outputs=("a",), auto_run_on_append=True)
    for _ in range(3):
        run_to_the_end(config, sent)
        config.dataset.rows.create(output="abcdef")
    [trend] = dashboard.auto_run_trends(cast.team).listed
    assert trend.sparks[0].values == [3.5, (1 + 6 + 6) / 3]


def test_a_new_evaluator_version_replaces_the_line_of_the_old(cast, scored, sent):
    from evalloop.evaluators import services as evaluators

    config = scored(outputs=("ab",), auto_run_on_append=True)
    run_to_the_end(config, sent)
    evaluator = config.evaluators.get()
    evaluators.update_evaluator(evaluator=evaluator, params={"max": 1})
    evaluator.refresh_from_db()
    run_to_the_end(config, sent)
    [trend] = dashboard.auto_run_trends(cast.team).listed
    assert [(s.series.field, s.values) for s in trend.sparks] == [
        ("length", [2.0]),
        ("within", [0.0]),
    ]
    assert all(s.series.version_id == evaluator.version_id for s in trend.sparks)


def test_the_page_draws_sparklines_linked_to_the_trend_page(cast, scored, sent, login):
    config = scored("Every append", auto_run_on_append=True)
    run_to_the_end(config, sent)
    html = login(cast.viewer).get(HOME).content.decode()
    assert f'<a href="{reverse("runs:config-trend", args=[config.pk])}">Every append</a>' in html
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg"') == 2
    label = "Size for Every append · length (mean) over the last 1 run, latest 3"
    assert f'aria-label="{label}"' in html
    assert "<script" not in html.split('data-testid="trends"')[1].split("</section>")[0]


def test_an_auto_running_config_without_runs_says_so(cast, scored, login):
    scored("Every append", auto_run_on_append=True)
    html = login(cast.viewer).get(HOME).content.decode()
    assert "No completed run with a number or yes/no score yet." in html


def test_a_config_of_text_answers_has_no_line(cast, sent):
    from evalloop.datasets.models import Dataset, Mode
    from evalloop.runs.tests.factories import add_rows, make_config

    dataset = Dataset.objects.create(team=cast.team, name="Texts", mode=Mode.MESSAGE)
    add_rows(dataset, "ok")
    matcher = EvaluatorFactory(team=cast.team, name="Words", kind="contains")
    config = make_config(dataset, matcher, name="Words", auto_run_on_append=True)
    run_to_the_end(config, sent)
    [trend] = dashboard.auto_run_trends(cast.team).listed
    assert [s.series.field for s in trend.sparks] == ["match"]


def test_without_auto_running_configs_the_panel_says_how_to_get_one(cast, login):
    html = login(cast.editor).get(HOME).content.decode()
    assert "No config runs automatically yet." in html
    assert "Run automatically on every append" in html


def test_a_team_of_many_auto_running_configs_draws_the_latest_to_run(
    cast, scored, sent, login, monkeypatch
):
    monkeypatch.setattr(dashboard, "TREND_CONFIGS", 2)
    _never, older, newer = (scored(name, auto_run_on_append=True) for name in "ABC")
    run_to_the_end(older, sent)
    run_to_the_end(newer, sent)

    panel = dashboard.auto_run_trends(cast.team)
    assert [trend.config for trend in panel.listed] == [newer, older]
    assert panel.unlisted == 1
    html = login(cast.viewer).get(HOME).content.decode()
    assert html.count("<li data-config=") == 2
    assert "and 1 more auto-running config among the" in html
