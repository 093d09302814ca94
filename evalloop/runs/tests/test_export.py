from __future__ import annotations

import csv
import io

from django.urls import reverse

from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory
from evalloop.datasets.tests.factories import DatasetFactory, RowFactory
from evalloop.lib import csvsafe
from evalloop.runs import export, grid
from evalloop.runs.tests import scenes


def body(response):
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def records(text):
    return list(csvsafe.reader(io.StringIO(text)))


def test_the_csv_has_a_line_per_row_and_columns_per_field(cast):
    cfg = scenes.config(cast.team)
    made = scenes.run(cfg, rows=2)
    (first, second), (version,) = scenes.plan(made)
    scenes.result(made, first, version, {"score": 0.5, "ok": True})
    scenes.result(made, second, version, None, error="rate limited")
    text = "".join(export.stream(made))
    header, one, two = list(csv.reader(io.StringIO(text)))
    assert header == [
        "row_id",
        "input",
        "output",
        "expected_output",
        "session",
        "row",
        "Quality judge.score",
        "Quality judge.ok",
        "Quality judge.error",
    ]
    assert (one[0], one[5]) == (str(first.pk), "1")
    assert one[6:] == ["0.5", "true", ""]
    assert two[6:] == ["", "", "rate limited"]


def test_formula_cells_are_neutralised_and_read_back(cast):
    cfg = scenes.config(cast.team)
    row = RowFactory.create(dataset=cfg.dataset, input='=HYPERLINK("x")', output="@SUM(A1)")
    made = scenes.run(cfg, rows=[row])
    (version,) = scenes.plan(made)[1]
    scenes.result(made, row, version, None, error="-1 is not allowed")
    text = "".join(export.stream(made))
    raw = list(csv.reader(io.StringIO(text)))[1]
    assert raw[1].startswith("'=")
    assert raw[2].startswith("'@")
    assert raw[-1].startswith("'-")
    assert records(text)[1][1] == '=HYPERLINK("x")'


def test_the_source_session_is_named(cast):
    chatbot = ChatbotFactory(team=cast.team, slug="bot")
    cfg = scenes.config(cast.team)
    row = RowFactory.create(
        dataset=cfg.dataset, source_session=SessionFactory(chatbot=chatbot, external_id="s-9")
    )
    made = scenes.run(cfg, rows=[row])
    assert records("".join(export.stream(made)))[1][4] == "s-9"


def test_repeated_evaluator_names_get_their_version(cast):
    cfg = scenes.config(cast.team)
    made = scenes.run(cfg, rows=1)
    old = made.plan_evaluators.get().version
    other = scenes.evaluator(cast.team, name="Other")
    newer = scenes.version_of(other, "zz99")
    newer.name = old.name
    newer.save()
    made.plan_evaluators.create(version=newer, evaluator=other, position=1)
    header = records("".join(export.stream(made)))[0]
    assert f"Quality judge@{old.digest}.score" in header
    assert "Quality judge@zz99.score" in header


def test_the_csv_streams_in_a_fixed_number_of_queries(cast, django_assert_max_num_queries):
    cfg = scenes.config(cast.team)
    made = scenes.run(cfg, rows=30)
    rows, (version,) = scenes.plan(made)
    for row in rows:
        scenes.result(made, row, version, {"score": 1, "ok": False})
    with django_assert_max_num_queries(6):
        lines = list(export.stream(made))
    assert len(lines) == 31


def places_in_csv(made):
    lines = records("".join(export.stream(made)))
    column = lines[0].index("row")
    return [int(line[column]) for line in lines[1:]]


def test_rows_are_numbered_by_their_place_in_the_dataset_across_chunks(cast, monkeypatch):
    cfg = scenes.config(cast.team)
    RowFactory.create_batch(4, dataset=DatasetFactory(team=cast.team))  # ids, not places
    rows = RowFactory.create_batch(9, dataset=cfg.dataset)
    rows[4].delete()  # later rows move up a place
    planned = [rows[i] for i in (1, 2, 3, 6, 7, 8)]  # rows 1 and 5 stay out of the plan
    monkeypatch.setattr(export, "CHUNK", 2)
    assert places_in_csv(scenes.run(cfg, rows=planned)) == [2, 3, 4, 6, 7, 8]


def test_numbering_a_whole_plan_in_chunks_agrees_with_the_datasets_numbers(cast, monkeypatch):
    cfg = scenes.config(cast.team)
    rows = RowFactory.create_batch(12, dataset=cfg.dataset)
    for index in (0, 5, 6):
        rows[index].delete()
    kept = [row for i, row in enumerate(rows) if i not in (0, 5, 6)]
    sampled = kept[1::3]
    monkeypatch.setattr(export, "CHUNK", 1)
    expected = cfg.dataset.row_positions(row.pk for row in sampled)
    assert places_in_csv(scenes.run(cfg, rows=sampled)) == [expected[r.pk] for r in sampled]


def test_a_plan_chunk_asked_out_of_order_is_still_numbered(cast):
    cfg = scenes.config(cast.team)
    rows = RowFactory.create_batch(3, dataset=cfg.dataset)
    made = scenes.run(cfg, rows=rows)
    plan = list(grid.plan_rows(made))
    numbering = grid.Numbering()
    assert numbering.places(plan[2:]) == {rows[2].pk: 3}
    assert numbering.places(plan[:2]) == {rows[0].pk: 1, rows[1].pk: 2}


def test_the_download_is_streamed_to_members_only(cast, login):
    made = scenes.run(scenes.config(cast.team))
    url = reverse("runs:run-csv", args=[made.pk])
    response = login(cast.viewer).get(url)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"quality-run-{made.pk}.csv" in response["Content-Disposition"]
    assert body(response).startswith("row_id,")
    assert login(cast.outsider).get(url).status_code == 404
