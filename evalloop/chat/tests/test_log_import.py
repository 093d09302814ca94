"""Importing conversation logs (CSV, JSON Lines) through batch ingestion."""

import io
import json
from datetime import UTC, datetime

import pytest

from evalloop.chat import ingest, log_import
from evalloop.chat.log_import import RowError, check_log, detect_format, import_log
from evalloop.chat.models import Message, Session
from evalloop.chat.tests.factories import ChatbotFactory

CSV = """session_id,role,content,created_at,tags,session_tags,participant
s-1,human,"Hello, there",2024-05-01T10:00:00+00:00,,vip,p-1
s-1,ai,Hi!,2024-05-01T10:00:05+00:00,"greeting,short",,
s-2,human,Anyone?,2024-05-01 11:00:00,,,
"""


@pytest.fixture
def chatbot(cast):
    return ChatbotFactory(team=cast.team, slug="support")


def upload(text):
    return io.BytesIO(text.encode())


def jsonl(*rows):
    return "\n".join(json.dumps(row) for row in rows) + "\n"


def test_it_imports_a_csv_log(chatbot):
    report = import_log(chatbot=chatbot, file=upload(CSV), fmt="csv")
    assert report.errors == []
    assert report.rows == 3
    assert report.summary.messages_created == 3
    s1 = Session.objects.get(external_id="s-1")
    assert (s1.participant, s1.message_count) == ("p-1", 2)
    assert [t.name for t in s1.tags.all()] == ["vip"]
    assert [m.content for m in s1.messages.all()] == ["Hello, there", "Hi!"]
    assert sorted(t.name for t in s1.messages.get(role="ai").tags.all()) == ["greeting", "short"]
    assert s1.created_at == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_a_time_without_a_zone_is_read_in_the_servers_zone(chatbot, settings):
    import_log(chatbot=chatbot, file=upload(CSV), fmt="csv")
    assert Message.objects.get(content="Anyone?").created_at == datetime(2024, 5, 1, 11, tzinfo=UTC)


def test_importing_the_same_file_again_adds_nothing(chatbot):
    import_log(chatbot=chatbot, file=upload(CSV), fmt="csv")
    report = import_log(chatbot=chatbot, file=upload(CSV), fmt="csv")
    assert report.summary.messages_created == 0
    assert report.summary.messages_skipped == 3
    assert Message.objects.count() == 3


def test_it_imports_json_lines(chatbot):
    rows = [
        {"session_id": "s-1", "message_id": "m-1", "role": "human", "content": "hi",
         "created_at": "2024-05-01T10:00:00Z", "tags": ["a"], "channel": "sms"},
        {"session_id": "s-1", "message_id": "m-2", "role": "ai", "content": "hello",
         "created_at": "2024-05-01T10:00:01Z"},
    ]  # fmt: skip
    report = import_log(chatbot=chatbot, file=upload(jsonl(*rows) + "\n"), fmt="jsonl")
    assert report.summary.messages_created == 2
    assert Session.objects.get().channel == "sms"
    assert Message.objects.get(external_id="m-1").tags.get().name == "a"


def test_an_invalid_file_writes_nothing_and_names_each_bad_row(chatbot):
    bad_rows = [
        "s-3,robot,x,2024-05-01T10:00:00Z,,,",
        "s-3,ai,x,yesterday,,,",
        ",ai,x,2024-05-01T10:00:00Z,,,",
    ]
    text = CSV + "\n".join(bad_rows) + "\n"
    report = import_log(chatbot=chatbot, file=upload(text), fmt="csv")
    assert [(e.line, e.field) for e in report.errors] == [
        (5, "role"),
        (6, "created_at"),
        (7, "session_id"),
    ]
    assert report.summary is None
    assert not Session.objects.exists()


def test_missing_and_unknown_columns_are_named(chatbot):
    report = check_log(file=upload("session_id,role,when\ns,ai,x\n"), fmt="csv")
    assert report.errors == [
        RowError(1, "content", "Missing column."),
        RowError(1, "created_at", "Missing column."),
        RowError(1, "when", "Unknown column."),
    ]


def test_a_row_with_too_many_cells_is_an_error(chatbot):
    text = "session_id,role,content,created_at\ns,ai,x,2024-05-01T10:00:00Z,extra\n"
    assert check_log(file=upload(text), fmt="csv").errors == [
        RowError(2, "row", "More cells than columns.")
    ]


def test_a_line_that_is_not_json_is_an_error(chatbot):
    report = check_log(file=upload('{"session_id": "s"\n[1]\n'), fmt="jsonl")
    assert [(e.line, e.message) for e in report.errors] == [
        (1, "Not a JSON object."),
        (2, "Not an object."),
    ]


def test_a_file_that_is_not_utf8_is_an_error(chatbot):
    report = check_log(file=io.BytesIO(b"session_id,role\n\xff\xfe\n"), fmt="csv")
    assert report.errors[0].field == "file"


def test_an_empty_file_is_an_error(chatbot):
    assert check_log(file=upload(""), fmt="jsonl").errors[0].message == "The file has no rows."


def test_the_report_stops_listing_after_a_hundred_errors(chatbot):
    text = "session_id,role,content,created_at\n" + "s,bot,x,2024-05-01T10:00:00Z\n" * 150
    report = check_log(file=upload(text), fmt="csv")
    assert (len(report.errors), report.more_errors) == (100, 50)


def test_a_large_file_is_ingested_in_several_batches(chatbot, monkeypatch):
    monkeypatch.setattr(log_import, "ROWS_PER_BATCH", 2)
    report = import_log(chatbot=chatbot, file=upload(CSV), fmt="csv")
    assert report.summary.messages_created == 3
    assert Session.objects.get(external_id="s-1").message_count == 2


def test_a_file_with_many_tags_is_ingested_in_batches_under_the_tag_limit(chatbot, monkeypatch):
    monkeypatch.setattr(ingest, "MAX_TAGS_PER_BATCH", 4)
    row = {"role": "human", "content": "hi", "created_at": "2024-05-01T10:00:00Z"}
    rows = [
        {**row, "session_id": f"s-{n}", "tags": ["a", "b"], "session_tags": ["c"]} for n in range(5)
    ]
    report = import_log(chatbot=chatbot, file=upload(jsonl(*rows)), fmt="jsonl")
    assert report.errors == []
    assert report.summary.messages_created == 5


def test_a_row_with_more_than_a_hundred_tags_is_an_error(chatbot):
    row = {
        "session_id": "s-1",
        "role": "human",
        "content": "hi",
        "created_at": "2024-05-01T10:00:00Z",
    }
    report = check_log(
        file=upload(jsonl({**row, "tags": [f"t-{n}" for n in range(101)]})), fmt="jsonl"
    )
    assert [(error.line, error.field) for error in report.errors] == [(1, "tags")]


def test_a_failure_in_a_later_batch_keeps_the_earlier_ones_and_a_reimport_completes_it(
    chatbot, monkeypatch
):
    monkeypatch.setattr(log_import, "ROWS_PER_BATCH", 1)
    real, calls = log_import.ingest_traffic, []

    def failing(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("lost the database")
        return real(**kwargs)

    monkeypatch.setattr(log_import, "ingest_traffic", failing)
    with pytest.raises(RuntimeError):
        import_log(chatbot=chatbot, file=upload(CSV), fmt="csv")
    assert Message.objects.count() == 1
    report = import_log(chatbot=chatbot, file=upload(CSV), fmt="csv")
    assert (report.summary.messages_created, report.summary.messages_skipped) == (2, 1)
    assert Message.objects.count() == 3


@pytest.mark.django_db(transaction=True)  # retried only outside a transaction
def test_a_batch_that_finds_the_database_busy_is_tried_again(chatbot, monkeypatch):
    from django.db import OperationalError

    from evalloop.lib import busy

    monkeypatch.setattr(busy, "PAUSE_SECONDS", 0)
    real, calls = log_import.ingest_traffic, []

    def locked_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return real(**kwargs)

    monkeypatch.setattr(log_import, "ingest_traffic", locked_once)
    report = import_log(chatbot=chatbot, file=upload(CSV), fmt="csv")
    assert report.summary.messages_created == 3


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("log.CSV", "csv"), ("log.jsonl", "jsonl"), ("log.ndjson", "jsonl"), ("log.txt", None)],
)
def test_the_format_is_read_from_the_file_name(name, fmt):
    assert detect_format(name) == fmt
