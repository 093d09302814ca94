from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory
from evalloop.datasets.tests.factories import DatasetFactory, RowFactory
from evalloop.runs.forms import AUTO_RUN_HELP
from evalloop.runs.models import Config, Run, RunStatus, RunType, Trigger
from evalloop.runs.tests import scenes
from evalloop.runs.views.configs import RUNS_PER_PAGE


def url(name, *args):
    return reverse(f"runs:{name}", args=args)


def flashes(response):
    return [str(m) for m in response.wsgi_request._messages]


@pytest.fixture
def judge(cast):
    return scenes.evaluator(cast.team, name="Judge")


@pytest.fixture
def cfg(cast, judge):
    dataset = DatasetFactory(team=cast.team, name="Golden")
    RowFactory.create_batch(3, dataset=dataset)
    return scenes.config(cast.team, dataset=dataset, evaluators=[judge])


# The list


def test_the_list_shows_dataset_evaluators_and_last_run_in_a_fixed_number_of_queries(
    cast, login, django_assert_num_queries
):
    client = login(cast.viewer)
    for n in range(3):
        made = scenes.config(cast.team, name=f"Config {n}", auto_run_on_append=n == 0)
        scenes.run(made, rows=1, status=RunStatus.FAILED)
        scenes.run(made, rows=1, status=RunStatus.RUNNING)
    scenes.config(cast.other_team, name="Hidden")
    client.get(url("config-list"))  # warm the session and flags
    with django_assert_num_queries(7):
        response = client.get(url("config-list"))
    for n in range(3, 8):
        scenes.config(cast.team, name=f"Config {n}")
    with django_assert_num_queries(7):
        client.get(url("config-list"))
    body = response.content.decode()
    assert body.count(">running<") == 3
    assert ">failed<" not in body
    assert body.count(">auto-run<") == 1
    assert "Config 0 judge" in body
    assert "Hidden" not in body


def test_the_nav_links_to_evaluations(cast, login):
    body = login(cast.viewer).get(reverse("home")).content.decode()
    assert f'href="{url("config-list")}"' in body


def test_a_viewer_sees_no_write_buttons(cast, login, cfg):
    client = login(cast.viewer)
    assert b"New config" not in client.get(url("config-list")).content
    body = client.get(url("config-detail", cfg.pk)).content.decode()
    assert "Preview" not in body
    assert url("run-start", cfg.pk) not in body
    assert url("config-delete", cfg.pk) not in body


def test_a_viewer_cannot_write(cast, login, cfg):
    client = login(cast.viewer)
    made = scenes.run(cfg, status=RunStatus.RUNNING)
    for target in (
        url("config-create"),
        url("config-edit", cfg.pk),
        url("config-delete", cfg.pk),
        url("run-start", cfg.pk),
        url("run-cancel", made.pk),
        url("run-rerun-failed", made.pk),
    ):
        assert client.post(target, {"type": "full", "name": "X"}).status_code == 403, target
    assert Config.objects.filter(pk=cfg.pk).exists()
    assert Run.objects.count() == 1
    assert Run.objects.get().status == RunStatus.RUNNING


def test_an_outsider_gets_404_everywhere(cast, login, cfg):
    client = login(cast.outsider)
    made = scenes.run(cfg)
    for target in (
        url("config-detail", cfg.pk),
        url("config-edit", cfg.pk),
        url("config-delete", cfg.pk),
        url("config-trend", cfg.pk),
        url("run-detail", made.pk),
        url("run-csv", made.pk),
    ):
        assert client.get(target).status_code == 404, target
    for target in (
        url("run-start", cfg.pk),
        url("run-cancel", made.pk),
        url("run-rerun-failed", made.pk),
        url("config-delete", cfg.pk),
    ):
        assert client.post(target, {"type": "full"}).status_code == 404, target


# The form


def test_an_editor_creates_a_config(cast, login, judge):
    dataset = DatasetFactory(team=cast.team)
    response = login(cast.editor).post(
        url("config-create"),
        {
            "name": "Tone",
            "dataset": dataset.pk,
            "evaluators": [judge.pk],
            "auto_run_on_append": "on",
            "daily_row_cap": "500",
            "min_minutes_between_runs": "15",
        },
    )
    made = Config.objects.get(name="Tone")
    assert response.url == url("config-detail", made.pk)
    assert (made.dataset, list(made.evaluators.all())) == (dataset, [judge])
    assert (made.auto_run_on_append, made.daily_row_cap, made.min_minutes_between_runs) == (
        True,
        500,
        15,
    )
    assert made.created_by == cast.editor


def test_the_form_says_what_auto_run_costs(cast, login):
    body = login(cast.editor).get(url("config-create")).content.decode()
    assert "one evaluation per row and per evaluator, LLM judges included" in AUTO_RUN_HELP
    assert AUTO_RUN_HELP in body


def test_another_teams_dataset_or_evaluator_is_a_form_error(cast, login, judge):
    theirs = DatasetFactory(team=cast.other_team)
    their_judge = scenes.evaluator(cast.other_team, name="Theirs")
    response = login(cast.editor).post(
        url("config-create"),
        {"name": "Sneaky", "dataset": theirs.pk, "evaluators": [their_judge.pk]},
    )
    assert response.status_code == 200
    assert response.context["form"].errors.keys() == {"dataset", "evaluators"}
    assert not Config.objects.filter(name="Sneaky").exists()


def test_bad_limits_and_a_taken_name_are_form_errors(cast, login, cfg, judge):
    client = login(cast.editor)
    data = {"name": "X", "dataset": cfg.dataset_id, "evaluators": [judge.pk]}
    response = client.post(url("config-create"), {**data, "daily_row_cap": "0"})
    assert "daily_row_cap" in response.context["form"].errors
    response = client.post(url("config-create"), {**data, "name": cfg.name})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["name"] == [f"A config named '{cfg.name}' already exists in this team."]
    assert not form.non_field_errors()
    assert Config.objects.count() == 1


def test_an_editor_edits_a_config(cast, login, cfg, judge):
    other = scenes.evaluator(cast.team, name="Other")
    form = login(cast.editor).get(url("config-edit", cfg.pk)).context["form"]
    assert form.initial["evaluators"] == [judge.pk]
    response = login(cast.editor).post(
        url("config-edit", cfg.pk),
        {"name": "Renamed", "dataset": cfg.dataset_id, "evaluators": [judge.pk, other.pk]},
    )
    assert response.url == url("config-detail", cfg.pk)
    cfg.refresh_from_db()
    assert cfg.name == "Renamed"
    assert set(cfg.evaluators.all()) == {judge, other}


# Deletion


def test_delete_asks_first_then_deletes(cast, login, cfg):
    client = login(cast.editor)
    assert b"Delete config" in client.get(url("config-delete", cfg.pk)).content
    response = client.post(url("config-delete", cfg.pk))
    assert response.url == url("config-list")
    assert not Config.objects.filter(pk=cfg.pk).exists()


def test_deleting_a_config_with_an_unfinished_run_says_why(cast, login, cfg):
    scenes.run(cfg, status=RunStatus.RUNNING)
    response = login(cast.editor).post(url("config-delete", cfg.pk), follow=True)
    assert Config.objects.filter(pk=cfg.pk).exists()
    assert "was not deleted" in response.content.decode()
    assert "unfinished" in flashes(response)[0]


# The config page and its run history


def test_the_history_shows_each_run_in_a_fixed_number_of_queries(
    cast, login, cfg, django_assert_num_queries
):
    client = login(cast.viewer)
    scenes.run(cfg, type=RunType.DELTA, rows=2)
    client.get(url("config-detail", cfg.pk))
    # 9 for the page and its history, 3 for the rules feeding the dataset (flag and rules).
    with django_assert_num_queries(12):
        response = client.get(url("config-detail", cfg.pk))
    for _ in range(4):
        scenes.run(cfg, rows=1)
    with django_assert_num_queries(12):
        client.get(url("config-detail", cfg.pk))
    body = response.content.decode()
    assert "2 new rows" in body
    assert 'hx-trigger="every 2s"' not in body


def test_the_history_polls_while_a_run_is_unfinished(cast, login, cfg):
    made = scenes.run(cfg, status=RunStatus.RUNNING, rows=2)
    Run.objects.filter(pk=made.pk).update(done=1)
    client = login(cast.viewer)
    page = client.get(url("config-detail", cfg.pk)).content.decode()
    assert 'hx-trigger="every 2s"' in page
    partial = client.get(url("config-detail", cfg.pk), headers={"HX-Request": "true"})
    body = partial.content.decode()
    assert body.strip().startswith('<div id="run-history"')
    assert 'value="50"' in body
    assert 'hx-trigger="every 2s"' in body
    Run.objects.filter(pk=made.pk).update(status=RunStatus.COMPLETED, done=2)
    body = client.get(url("config-detail", cfg.pk), headers={"HX-Request": "true"}).content
    assert b"every 2s" not in body
    assert b'value="100"' in body


def test_the_history_of_an_auto_running_config_polls_for_its_delta_runs(cast, login, cfg):
    client = login(cast.viewer)
    scenes.run(cfg, type=RunType.DELTA, rows=1)
    assert b"every 10s" not in client.get(url("config-detail", cfg.pk)).content
    Config.objects.filter(pk=cfg.pk).update(auto_run_on_append=True)
    body = client.get(url("config-detail", cfg.pk)).content.decode()
    assert 'hx-trigger="every 10s" hx-swap="outerHTML" data-poll-while-visible' in body
    partial = client.get(url("config-detail", cfg.pk), headers={"HX-Request": "true"})
    assert b'hx-trigger="every 10s"' in partial.content  # it keeps polling
    for _ in range(RUNS_PER_PAGE):
        scenes.run(cfg, type=RunType.DELTA, rows=1)
    older = client.get(url("config-detail", cfg.pk), {"page": 2}).content
    assert b"hx-trigger" not in older  # new runs come in on the first page


def test_the_run_and_preview_buttons_post_with_csrf(cast, login, cfg):
    body = login(cast.editor).get(url("config-detail", cfg.pk)).content.decode()
    assert body.count(f'action="{url("run-start", cfg.pk)}"') == 2
    assert body.count("csrfmiddlewaretoken") >= 2


# Starting, cancelling, re-running


def test_run_starts_a_full_run_and_shows_it(cast, login, cfg):
    response = login(cast.editor).post(url("run-start", cfg.pk), {"type": "full"})
    made = Run.objects.get()
    assert response.url == url("run-detail", made.pk)
    assert (made.type, made.scope_size, made.trigger) == (RunType.FULL, 3, Trigger.USER)
    assert made.triggered_by == cast.editor


def test_preview_samples_rows(cast, login, cfg):
    login(cast.editor).post(url("run-start", cfg.pk), {"type": "preview", "sample_size": "2"})
    assert Run.objects.get().scope_size == 2


@pytest.mark.parametrize("size", ["0", "-1", "5000", "abc"])
def test_a_bad_preview_size_says_what_is_wrong_with_it(cast, login, cfg, size):
    body = {"type": "preview", "sample_size": size}
    response = login(cast.editor).post(url("run-start", cfg.pk), body, follow=True)
    assert not Run.objects.exists()
    shown = flashes(response)[0]
    assert "from 1 to 1000 rows" in shown
    assert "full run or a preview" not in shown


def test_a_delta_run_cannot_be_started_by_hand(cast, login, cfg):
    response = login(cast.editor).post(url("run-start", cfg.pk), {"type": "delta"}, follow=True)
    assert not Run.objects.exists()
    assert "full run or a preview" in flashes(response)[0]


def test_a_run_of_an_empty_dataset_says_why(cast, login, judge):
    empty = scenes.config(cast.team, name="Empty", evaluators=[judge])
    response = login(cast.editor).post(url("run-start", empty.pk), {"type": "full"}, follow=True)
    assert not Run.objects.exists()
    assert "no rows" in flashes(response)[0]


def test_cancel_stops_an_unfinished_run(cast, login, cfg):
    made = scenes.run(cfg, status=RunStatus.RUNNING)
    response = login(cast.editor).post(url("run-cancel", made.pk))
    assert response.url == url("run-detail", made.pk)
    made.refresh_from_db()
    assert made.status == RunStatus.CANCELLED


def test_cancelling_a_finished_run_says_why(cast, login, cfg):
    made = scenes.run(cfg)
    response = login(cast.editor).post(url("run-cancel", made.pk), follow=True)
    assert "already completed" in flashes(response)[0]


def test_rerun_failed_reopens_the_run(cast, login, cfg):
    made = scenes.run(cfg, rows=1)
    (row,), (version,) = scenes.plan(made)
    scenes.result(made, row, version, error="timeout")
    login(cast.editor).post(url("run-rerun-failed", made.pk))
    made.refresh_from_db()
    assert made.status == RunStatus.PENDING
    assert not made.results.exists()


def test_rerun_failed_without_failures_says_why(cast, login, cfg):
    made = scenes.run(cfg, rows=1)
    response = login(cast.editor).post(url("run-rerun-failed", made.pk), follow=True)
    assert "no failed" in flashes(response)[0]


# The run page


@pytest.fixture
def scored(cast, judge):
    chatbot = ChatbotFactory(team=cast.team, slug="bot")
    dataset = DatasetFactory(team=cast.team)
    source = SessionFactory(chatbot=chatbot, external_id="s-7")
    rows = [
        RowFactory(dataset=dataset, input="<b>hi</b>", source_session=source),
        RowFactory(dataset=dataset, input="second"),
        RowFactory(dataset=dataset, input="third"),
    ]
    tone = scenes.evaluator(cast.team, name="Tone", fields=[("label", "category")])
    cfg = scenes.config(cast.team, name="Scored", dataset=dataset, evaluators=[judge, tone])
    made = scenes.run(cfg, rows=rows)
    j, t = judge.version, tone.version
    scenes.result(made, rows[0], j, {"score": 0.25, "ok": True})
    scenes.result(made, rows[0], t, {"label": "good"})
    scenes.result(made, rows[1], j, error="the judge answered <nonsense>")
    scenes.aggregate(
        made,
        j,
        "score",
        "number",
        count=1,
        errors=1,
        mean=0.25,
        median=0.25,
        minimum=0.25,
        maximum=0.25,
        stddev=0.0,
    )
    scenes.aggregate(made, j, "ok", "boolean", count=4, errors=1, true_count=3)
    scenes.aggregate(made, t, "label", "category", count=1, distribution={"good": 1})
    made.refresh_from_db()
    return made


def test_a_run_of_one_row_reads_in_the_singular(cast, login, cfg):
    made = scenes.run(cfg, rows=1)
    body = login(cast.viewer).get(url("run-detail", made.pk)).content.decode()
    assert "1 row · 0 of 1 evaluation done" in body


def test_the_run_page_shows_aggregates_then_results(cast, login, scored):
    body = login(cast.viewer).get(url("run-detail", scored.pk)).content.decode()
    assert body.index("Aggregates") < body.index("Results")
    assert 'data-testid="mean">0.250<' in body
    assert 'data-testid="true-rate">75%<' in body
    assert "<meter" in body
    assert "good" in body
    assert "error: the judge answered &lt;nonsense&gt;" in body
    assert "&lt;b&gt;hi&lt;/b&gt;" in body
    assert (
        reverse(
            "chat:transcript",
            kwargs={"slug": "bot", "pk": scored.plan_rows.first().row.source_session_id},
        )
        in body
    )
    assert url("run-csv", scored.pk) in body
    assert 'hx-trigger="every 2s"' not in body


def test_the_run_page_shows_a_column_per_evaluator_field(cast, login, scored):
    response = login(cast.viewer).get(url("run-detail", scored.pk))
    columns = response.context["columns"]
    assert [(c.name, [f.name for f in c.fields]) for c in columns] == [
        ("Judge", ["score", "ok"]),
        ("Tone", ["label"]),
    ]
    first = response.context["lines"][0]
    assert [cell.values for cell in first.cells] == [[0.25, True], ["good"]]
    assert response.context["lines"][2].cells[0].pending


def test_the_run_page_pages_results_in_a_fixed_number_of_queries(
    cast, login, cfg, django_assert_num_queries
):
    made = scenes.run(cfg, rows=30)
    rows, (version,) = scenes.plan(made)
    for row in rows:
        scenes.result(made, row, version, {"score": 1, "ok": True})
    client = login(cast.viewer)
    client.get(url("run-detail", made.pk))
    with django_assert_num_queries(12):
        first = client.get(url("run-detail", made.pk))
    with django_assert_num_queries(12):
        last = client.get(url("run-detail", made.pk), {"page": 2, "size": 25})
    assert len(first.context["lines"]) == 25
    assert len(last.context["lines"]) == 5
    assert client.get(url("run-detail", made.pk), {"size": 100000}).context["size"] == 25


def test_results_number_rows_by_their_place_in_the_dataset_and_link_the_row(cast, login, cfg):
    _, second, third = cfg.dataset.rows.order_by("pk")
    second.delete()  # the third row moves up to second place
    made = scenes.run(cfg, rows=[third])
    response = login(cast.viewer).get(url("run-detail", made.pk))
    (line,) = response.context["lines"]
    assert (line.row.pk, line.place) == (third.pk, 2)
    link = reverse("datasets:row-detail", args=[cfg.dataset.pk, third.pk])
    assert f'<a href="{link}" aria-label="Row 2">2</a>' in response.content.decode()
    assert login(cast.viewer).get(link).status_code == 200


def test_a_viewer_sees_no_cancel_or_rerun(cast, login, scored, cfg):
    assert b"Re-run failed" in login(cast.editor).get(url("run-detail", scored.pk)).content
    assert b"Re-run failed" not in login(cast.viewer).get(url("run-detail", scored.pk)).content
    running = scenes.run(cfg, status=RunStatus.RUNNING)
    assert b"Cancel run" in login(cast.editor).get(url("run-detail", running.pk)).content
    assert b"Cancel run" not in login(cast.viewer).get(url("run-detail", running.pk)).content


def test_a_cancelled_run_offers_no_rerun_of_its_failures(cast, login, cfg):
    made = scenes.run(cfg, rows=1, status=RunStatus.CANCELLED)
    (row,), (version,) = scenes.plan(made)
    scenes.result(made, row, version, error="timeout")
    Run.objects.filter(pk=made.pk).update(errors=1)
    assert b"Re-run failed" not in login(cast.editor).get(url("run-detail", made.pk)).content


def test_an_unfinished_run_polls_its_summary_and_reloads_when_final(cast, login, cfg):
    made = scenes.run(cfg, status=RunStatus.RUNNING)
    client = login(cast.viewer)
    assert b'hx-trigger="every 2s"' in client.get(url("run-detail", made.pk)).content
    partial = client.get(url("run-detail", made.pk), headers={"HX-Request": "true"})
    assert partial.content.decode().strip().startswith('<div id="run-summary"')
    assert b"Results" not in partial.content
    Run.objects.filter(pk=made.pk).update(
        status=RunStatus.COMPLETED, finished_at=timezone.now(), finalized_at=None
    )
    partial = client.get(url("run-detail", made.pk), headers={"HX-Request": "true"})
    assert b"Computing the aggregates" in partial.content
    Run.objects.filter(pk=made.pk).update(finalized_at=timezone.now())
    done = client.get(url("run-detail", made.pk), headers={"HX-Request": "true"})
    assert done["HX-Refresh"] == "true"


def test_the_dataset_delete_page_warns_that_its_configs_and_runs_go_too(cast, login, cfg):
    scenes.run(cfg, rows=1)
    page = login(cast.editor).get(reverse("datasets:dataset-delete", args=[cfg.dataset_id]))
    body = page.content.decode()
    assert "1 evaluation config" in body
    assert cfg.name in body


# The trend


def test_the_trend_draws_a_chart_per_field_with_a_series_per_version(cast, login, cfg, judge):
    old = judge.version
    first = scenes.run(cfg, rows=1, finished_at=timezone.now() - timedelta(days=3))
    scenes.aggregate(first, old, "score", "number", count=1, mean=0.5)
    scenes.aggregate(first, old, "ok", "boolean", count=2, true_count=1)
    new = scenes.version_of(judge, "judge02")
    second = scenes.run(cfg, rows=1, finished_at=timezone.now() - timedelta(days=1))
    scenes.aggregate(second, new, "score", "number", count=1, mean=0.8)
    response = login(cast.viewer).get(url("config-trend", cfg.pk))
    body = response.content.decode()
    titles = [item.chart.title for item in response.context["charts"]]
    assert titles == ["Judge · score", "Judge · ok"]
    score = response.context["charts"][0]
    assert [s.name for s in score.chart.series] == ["Judge @judge01", "Judge @judge02"]
    assert body.count('role="img"') == 2
    assert "Data table" in body
    assert url("run-detail", second.pk) in body
    assert "style=" not in body.split("<main", 1)[1]


def test_a_trend_field_without_values_says_why_instead_of_an_empty_chart(cast, login, cfg, judge):
    failed = scenes.run(cfg, rows=1, finished_at=timezone.now() - timedelta(days=1))
    scenes.aggregate(failed, judge.version, "score", "number", count=0, errors=1)
    body = login(cast.viewer).get(url("config-trend", cfg.pk)).content.decode()
    assert "No values to draw" in body
    assert 'role="img"' not in body


def test_the_trend_period_is_bounded(cast, login, cfg):
    client = login(cast.viewer)
    assert client.get(url("config-trend", cfg.pk), {"days": "7"}).context["days"] == 7
    assert client.get(url("config-trend", cfg.pk), {"days": "100000"}).context["days"] == 30
    assert client.get(url("config-trend", cfg.pk), {"days": "x"}).context["days"] == 30
    assert b"No finished full or delta run" in client.get(url("config-trend", cfg.pk)).content
