from __future__ import annotations

import csv
import io
import logging

import pytest
from django.http import Http404
from hypothesis import given
from hypothesis import strategies as st

from evalloop.datasets import csvio, services
from evalloop.datasets.models import Dataset, Mode, Origin, Row
from evalloop.datasets.tests.factories import DatasetFactory, RowFactory

pytestmark = pytest.mark.django_db


def upload(dataset, text, encoding="utf-8"):
    return services.upload_csv(dataset=dataset, file=io.BytesIO(text.encode(encoding)))


def download(dataset):
    return list(csv.reader(io.StringIO("".join(csvio.stream(dataset)))))


def problems_of(dataset, text):
    with pytest.raises(csvio.CsvInvalid) as caught:
        upload(dataset, text)
    return [(p.row, p.column, p.message) for p in caught.value.problems]


@pytest.fixture
def dataset():
    return DatasetFactory(mode=Mode.MESSAGE)


def test_an_upload_adds_rows_with_their_columns(dataset):
    written = upload(
        dataset,
        "input,output,expected_output,history,context.lang,state.step,participant_data.plan\n"
        'hi,hello,hey,"[{""role"": ""human"", ""content"": ""x""}]",en,3,pro\n'
        "q,a,,,,,\n",
    )
    assert (written.added, written.updated) == (2, 0)
    first, second = dataset.rows.order_by("id")
    assert (first.input, first.output, first.expected_output) == ("hi", "hello", "hey")
    assert first.history == [{"role": "human", "content": "x"}]
    assert (first.context, first.state, first.participant_data) == (
        {"lang": "en"},
        {"step": 3},
        {"plan": "pro"},
    )
    assert (second.history, second.context, second.origin) == ([], {}, Origin.CSV)


def test_a_row_with_an_id_updates_only_the_columns_present_and_is_marked_edited(dataset):
    row = RowFactory(dataset=dataset, input="old", output="keep", context={"a": 1})
    written = upload(dataset, f"id,input,context.b\n{row.pk},new,2\n")
    assert (written.added, written.updated) == (0, 1)
    row.refresh_from_db()
    assert (row.input, row.output, row.context) == ("new", "keep", {"b": 2})
    assert (row.edited, row.origin) == (True, Origin.MANUAL)


def test_one_invalid_row_means_nothing_is_written_and_every_problem_is_reported(dataset):
    row = RowFactory(dataset=dataset, input="untouched")
    elsewhere = RowFactory(dataset=DatasetFactory(team=dataset.team))
    problems = problems_of(
        dataset,
        "id,input,history\n"
        f"{row.pk},changed,\n"
        ",fine,[]\n"
        ',bad,"[{""role"": ""robot"", ""content"": ""x""}]"\n'
        ",bad,not json\n"
        f"{elsewhere.pk},other dataset,\n"
        "abc,bad id,\n"
        f"{row.pk},twice,\n",
    )
    assert [(row_, column) for row_, column, _ in problems] == [
        (4, "history"),
        (5, "history"),
        (7, "id"),
        (8, "id"),
        (6, "id"),
    ]
    assert "role must be one of" in problems[0][2]
    row.refresh_from_db()
    assert row.input == "untouched"
    assert dataset.rows.count() == 1


def test_a_large_upload_is_written_in_batches(dataset, monkeypatch):
    monkeypatch.setattr(csvio, "WRITE_BATCH", 2)
    batches = []
    real = csvio.write_batch

    def counted(batch, **kwargs):
        batches.append(len(batch))
        return real(batch, **kwargs)

    monkeypatch.setattr(csvio, "write_batch", counted)
    written = upload(dataset, "input,output\n" + "q,a\n" * 5)
    assert (written.added, batches) == (5, [2, 2, 1])
    assert dataset.rows.count() == 5


def test_a_batch_that_fails_undoes_the_batches_written_before_it(dataset, monkeypatch):
    row = RowFactory(dataset=dataset, input="old", output="keep")
    edited_at = row.edited_at
    monkeypatch.setattr(csvio, "WRITE_BATCH", 2)
    real, calls = csvio.write_batch, []

    def failing(batch, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("lost the database")
        return real(batch, **kwargs)

    monkeypatch.setattr(csvio, "write_batch", failing)
    with pytest.raises(RuntimeError):
        upload(dataset, f"id,input\n{row.pk},new\n,q1\n,q2\n,q3\n")
    assert list(dataset.rows.values_list("pk", flat=True)) == [row.pk]
    row.refresh_from_db()
    assert (row.input, row.output, row.edited_at) == ("old", "keep", edited_at)


def test_an_upload_into_a_dataset_deleted_meanwhile_is_a_404_with_nothing_left_to_undo(
    dataset, monkeypatch, caplog
):
    monkeypatch.setattr(csvio, "WRITE_BATCH", 2)
    real = csvio.write_batch

    def deleting(batch, **kwargs):
        written = real(batch, **kwargs)
        Dataset.objects.filter(pk=dataset.pk).delete()  # before the next batch comes
        return written

    monkeypatch.setattr(csvio, "write_batch", deleting)
    with pytest.raises(Http404):
        upload(dataset, "input\nq1\nq2\nq3\n")
    assert not Row.objects.exists()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(dataset, monkeypatch):
    monkeypatch.setattr(csvio, "MAX_UPLOAD_BYTES", 2**20)
    assert problems_of(dataset, "input\n" + "q" * 2**20 + "\n") == [
        (None, None, "The file is larger than 1 MB: split it.")
    ]
    assert not dataset.rows.exists()


def test_unknown_and_repeated_columns_are_reported_on_the_header(dataset):
    problems = problems_of(dataset, "input,inptu,input,metadata.x,context.\nq,q,q,1,2\n")
    assert [(row, column) for row, column, _ in problems] == [
        (1, "inptu"),
        (1, "input"),
        (1, "metadata.x"),
        (1, "context."),
    ]
    assert problems[0][2] == (
        "unknown column; the columns are id, input, output, expected_output, history, "
        "context.<key>, participant_data.<key>, state.<key>"
    )


def test_files_that_are_not_utf8_csv_are_refused(dataset):
    with pytest.raises(csvio.CsvInvalid, match="UTF-8"):
        upload(dataset, "input\ncafé\n", encoding="latin-1")
    with pytest.raises(csvio.CsvInvalid, match="empty"):
        upload(dataset, "")
    assert problems_of(dataset, "input\na,b\n")[0][:2] == (2, None)


def test_a_byte_order_mark_and_blank_lines_are_fine(dataset):
    written = upload(dataset, "\ufeffinput,output\n\nq,a\n,\n")
    assert written.added == 1


def test_a_new_row_with_nothing_in_it_is_a_problem(dataset):
    assert problems_of(dataset, 'input,history\nq,[]\n" ",[]\n') == [
        (3, None, "nothing in it: a new row needs some content")
    ]
    assert problems_of(dataset, "input,history\n,nope\n") == [
        (2, "history", "not JSON: expected a list of turns")
    ]
    assert not dataset.rows.exists()


def test_an_update_that_leaves_a_row_with_nothing_in_it_is_a_problem(dataset):
    emptied = RowFactory(dataset=dataset, input="q", output="a", history=[], context={})
    kept = RowFactory(dataset=dataset, input="q", output="a", context={"lang": "en"})
    text = f"id,input,output,history\n{emptied.pk},,,[]\n{kept.pk}, ,,\n"
    assert problems_of(dataset, text) == [(2, None, "nothing left in it: a row needs some content")]
    emptied.refresh_from_db()
    assert (emptied.input, emptied.output, emptied.edited) == ("q", "a", False)
    written = upload(dataset, f"id,input,output\n{kept.pk},,\n")
    assert written.updated == 1  # its context is content enough
    whole = f"id,input,output,expected_output,history,context.lang\n{kept.pk},,,,,\n"
    assert problems_of(dataset, whole) == [
        (2, None, "nothing left in it: a row needs some content")
    ]


def test_the_report_stops_listing_after_a_limit(dataset):
    lines = "".join(",not json\n" for _ in range(csvio.MAX_PROBLEMS + 5))
    with pytest.raises(csvio.CsvInvalid) as caught:
        upload(dataset, "input,history\n" + lines)
    assert (len(caught.value.problems), caught.value.more) == (csvio.MAX_PROBLEMS, 5)


def test_the_download_has_a_column_per_key_and_uploads_back_unchanged(dataset):
    history = [{"role": "human", "content": 'hé, "quoted"\nline', "created_at": "2026-01-01"}]
    RowFactory(dataset=dataset, history=history, context={"tags": ["a"], "n": "1"}, state={})
    RowFactory(dataset=dataset, context={"lang": "en"}, participant_data={"vip": True})
    header, *rows = download(dataset)
    assert header == [
        "id",
        "input",
        "output",
        "expected_output",
        "history",
        "context.lang",
        "context.n",
        "context.tags",
        "participant_data.vip",
    ]
    assert rows[0][6:8] == ['"1"', '["a"]']
    before = list(dataset.rows.order_by("id").values("history", "context", "participant_data"))
    text = "".join(csvio.stream(dataset))
    assert upload(dataset, text) == csvio.Written(added=0, updated=0, unchanged=2)
    after = list(dataset.rows.order_by("id").values("history", "context", "participant_data"))
    assert after == before


FORMULAS = ["=1+2", "-5", "+1", "@SUM(A1)", "\tx", "\rx", "'=quoted", "'tis", "''-", "a=b"]


def test_no_downloaded_cell_starts_a_formula_and_each_uploads_back_unchanged(dataset):
    rows = [
        RowFactory(dataset=dataset, input=text, output=text, context={"k": text, "n": -5})
        for text in FORMULAS
    ]
    text = "".join(csvio.stream(dataset))
    cells = [cell for record in csv.reader(io.StringIO(text)) for cell in record]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'-5" in cells
    before = list(dataset.rows.order_by("id").values("input", "output", "context"))
    assert upload(dataset, text).unchanged == len(rows)
    after = list(dataset.rows.order_by("id").values("input", "output", "context"))
    assert after == before
    assert [row["input"] for row in after] == FORMULAS


def test_an_uploaded_cell_loses_only_the_quote_that_guards_a_formula(dataset):
    upload(dataset, "input,output,context.n\n'=1+2,'tis,'-5\n")
    row = dataset.rows.get()
    assert (row.input, row.output, row.context) == ("=1+2", "'tis", {"n": -5})


def test_the_download_of_an_empty_dataset_is_its_header():
    assert download(DatasetFactory()) == [["id", "input", "output", "expected_output", "history"]]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@given(json_values)
def test_a_cell_reads_back_the_value_it_was_written_from(value):
    assert csvio.read_cell(csvio.write_cell(value)) == value


def test_an_unchanged_download_uploads_back_without_marking_a_row_edited(dataset):
    rows = [
        RowFactory(dataset=dataset, input="=1+2", context={"n": 1, "f": 1.5, "ok": True}),
        RowFactory(dataset=dataset, history=[{"role": "ai", "content": 'a,\n"b"'}]),
        RowFactory(dataset=dataset, state={"deep": {"list": [1, None, "x"]}}, output="'tis"),
    ]
    text = "".join(csvio.stream(dataset))
    assert upload(dataset, text) == csvio.Written(added=0, updated=0, unchanged=3)
    assert dataset.rows.count() == 3
    assert not dataset.rows.filter(edited_at__isnull=False).exists()
    changed = text.replace("'tis", "it is")
    assert upload(dataset, changed) == csvio.Written(added=0, updated=1, unchanged=2)
    assert list(dataset.rows.filter(edited_at__isnull=False)) == [rows[2]]
    assert dataset.rows.get(pk=rows[2].pk).output == "it is"


@pytest.mark.parametrize(("cell", "value"), [("true", True), ("1.0", 1.0), ('"""1"""', "1")])
def test_a_value_of_another_json_type_is_a_change(dataset, cell, value):
    row = RowFactory(dataset=dataset, context={"n": 1})
    assert upload(dataset, f"id,context.n\n{row.pk},{cell}\n").updated == 1
    row.refresh_from_db()
    assert row.edited
    assert row.context == {"n": value}
    assert type(row.context["n"]) is type(value)
