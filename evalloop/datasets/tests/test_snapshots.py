from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from evalloop.chat.models import MessageTag, Session, SessionTag
from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory, TagFactory, conversation
from evalloop.datasets import snapshots
from evalloop.datasets.models import Mode, Origin, Row
from evalloop.datasets.tests.factories import DatasetFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def chatbot():
    return ChatbotFactory(slug="support")


def snapshot(dataset, sessions=None, keep=None):
    sessions = sessions if sessions is not None else Session.objects.all()
    return snapshots.snapshot_sessions(
        dataset=dataset, sessions=sessions, origin=Origin.IMPORT, keep=keep
    )


def rows_of(dataset):
    return list(dataset.rows.order_by("id"))


def message_dataset(chatbot):
    return DatasetFactory(team=chatbot.team, mode=Mode.MESSAGE)


def session_dataset(chatbot):
    return DatasetFactory(team=chatbot.team, mode=Mode.SESSION)


def test_message_mode_makes_a_row_per_ai_reply_with_the_human_turn_as_input(chatbot):
    session = SessionFactory(chatbot=chatbot)
    h1, _, h2, a2 = conversation(
        session, ("human", "hi"), ("ai", "hello"), ("human", "price?"), ("ai", "10 EUR")
    )
    dataset = message_dataset(chatbot)
    tally = snapshot(dataset)
    first, second = rows_of(dataset)
    assert tally.added == 2
    assert (first.input, first.output, first.history) == ("hi", "hello", [])
    assert (second.input, second.output) == ("price?", "10 EUR")
    assert [(t["role"], t["content"]) for t in second.history] == [("human", "hi"), ("ai", "hello")]
    assert second.history[0]["created_at"] == h1.created_at.isoformat()
    assert second.source_pair == (h2.pk, a2.pk)
    assert second.source_session_id == session.pk
    assert first.origin == Origin.IMPORT


def test_a_bot_greeting_with_no_human_turn_before_it_is_a_row_with_empty_input(chatbot):
    session = SessionFactory(chatbot=chatbot)
    (greeting,) = conversation(session, ("ai", "Welcome!"))
    dataset = message_dataset(chatbot)
    snapshot(dataset)
    (row,) = rows_of(dataset)
    assert (row.input, row.output, row.history) == ("", "Welcome!", [])
    assert row.source_pair == (None, greeting.pk)


def test_a_second_reply_in_a_row_answers_no_human_turn_and_keeps_all_earlier_turns(chatbot):
    session = SessionFactory(chatbot=chatbot)
    conversation(session, ("human", "hi"), ("ai", "hello"), ("ai", "anything else?"))
    dataset = message_dataset(chatbot)
    snapshot(dataset)
    second = rows_of(dataset)[1]
    assert second.input == ""
    assert [t["content"] for t in second.history] == ["hi", "hello"]


def test_system_turns_between_question_and_reply_stay_in_history(chatbot):
    session = SessionFactory(chatbot=chatbot)
    conversation(session, ("system", "be brief"), ("human", "hi"), ("system", "tool"), ("ai", "yo"))
    dataset = message_dataset(chatbot)
    snapshot(dataset)
    (row,) = rows_of(dataset)
    assert row.input == "hi"
    assert [t["content"] for t in row.history] == ["be brief", "tool"]


def test_message_context_has_the_tags_of_both_messages_time_and_metadata(chatbot):
    session = SessionFactory(chatbot=chatbot, state={"step": 2}, participant_data={"plan": "pro"})
    human, reply = conversation(session, ("human", "hi"), ("ai", "hello"))
    reply.metadata = {"model": "m-1"}
    reply.save()
    for message, name in [(human, "angry"), (reply, "escalated")]:
        MessageTag.objects.create(message=message, tag=TagFactory(team=chatbot.team, name=name))
    SessionTag.objects.create(session=session, tag=TagFactory(team=chatbot.team, name="vip"))
    dataset = message_dataset(chatbot)
    snapshot(dataset)
    (row,) = rows_of(dataset)
    assert row.context["tags"] == ["angry", "escalated"]
    assert row.context["session_tags"] == ["vip"]
    assert row.context["time"] == reply.created_at.isoformat()
    assert row.context["metadata"] == {"model": "m-1"}
    assert row.context["chatbot"] == "support"
    assert (row.participant_data, row.state) == ({"plan": "pro"}, {"step": 2})


def test_session_mode_makes_one_row_per_session_with_the_whole_transcript(chatbot):
    session = SessionFactory(chatbot=chatbot, state={"done": True}, participant_data={"n": 1})
    conversation(session, ("human", "hi"), ("ai", "hello"), ("human", "bye"))
    SessionTag.objects.create(session=session, tag=TagFactory(team=chatbot.team, name="vip"))
    empty = SessionFactory(chatbot=chatbot)
    dataset = session_dataset(chatbot)
    tally = snapshot(dataset)
    rows = rows_of(dataset)
    assert tally.added == 2
    assert [t["content"] for t in rows[0].history] == ["hi", "hello", "bye"]
    assert (rows[0].input, rows[0].output) == ("", "")
    assert rows[0].context["tags"] == ["vip"]
    assert rows[0].context["session"] == session.external_id
    assert (rows[0].state, rows[0].participant_data) == ({"done": True}, {"n": 1})
    assert (rows[1].source_session_id, rows[1].history) == (empty.pk, [])


@pytest.mark.parametrize("mode", [Mode.MESSAGE, Mode.SESSION])
def test_sources_already_in_the_dataset_are_skipped_and_counted(chatbot, mode):
    conversation(SessionFactory(chatbot=chatbot), ("human", "a"), ("ai", "b"))
    dataset = DatasetFactory(team=chatbot.team, mode=mode)
    snapshot(dataset)
    conversation(SessionFactory(chatbot=chatbot), ("human", "c"), ("ai", "d"))
    again = snapshot(dataset)
    assert (again.added, again.skipped) == (1, 1)
    assert dataset.rows.count() == 2


def test_a_new_reply_in_a_known_session_is_a_new_source_in_message_mode(chatbot):
    session = SessionFactory(chatbot=chatbot)
    conversation(session, ("human", "a"), ("ai", "b"))
    dataset = message_dataset(chatbot)
    snapshot(dataset)
    later = session.messages.last().created_at
    from datetime import timedelta

    conversation(session, ("human", "c"), ("ai", "d"), start=later + timedelta(minutes=1))
    again = snapshot(dataset)
    assert (again.added, again.skipped) == (1, 1)


def test_a_sample_leaves_out_the_sources_it_does_not_keep(chatbot):
    for _ in range(4):
        conversation(SessionFactory(chatbot=chatbot), ("human", "a"), ("ai", "b"))
    draws = iter([True, False, True, False])
    tally = snapshot(session_dataset(chatbot), keep=lambda row: next(draws))
    assert (tally.added, tally.sampled_out, tally.sessions) == (2, 2, 4)


def test_only_the_given_sessions_are_read(chatbot):
    wanted, other = SessionFactory(chatbot=chatbot), SessionFactory(chatbot=chatbot)
    dataset = session_dataset(chatbot)
    snapshot(dataset, Session.objects.filter(pk=wanted.pk))
    assert [row.source_session_id for row in rows_of(dataset)] == [wanted.pk]
    assert other.pk not in dataset.rows.values_list("source_session_id", flat=True)


@pytest.mark.parametrize("mode", [Mode.MESSAGE, Mode.SESSION])
def test_it_reads_in_chunks_with_queries_per_chunk_not_per_session(chatbot, mode, monkeypatch):
    monkeypatch.setattr(snapshots, "SESSIONS_PER_CHUNK", 5)
    for _ in range(12):
        conversation(SessionFactory(chatbot=chatbot), ("human", "a"), ("ai", "b"))
    dataset = DatasetFactory(team=chatbot.team, mode=mode)
    with CaptureQueriesContext(connection) as queries:
        chunks: list[snapshots.Tally] = []
        tally = snapshots.snapshot_sessions(
            dataset=dataset,
            sessions=Session.objects.all(),
            origin=Origin.IMPORT,
            on_chunk=chunks.append,
        )
    assert [chunk.sessions for chunk in chunks] == [5, 5, 2]
    assert tally.added == 12
    assert len(queries) <= 4 * 8  # three chunks plus the empty page: a bounded handful each


def test_rows_survive_their_source_being_deleted(chatbot):
    session = SessionFactory(chatbot=chatbot)
    conversation(session, ("human", "a"), ("ai", "b"))
    dataset = message_dataset(chatbot)
    snapshot(dataset)
    session.delete()
    row = Row.objects.get(dataset=dataset)
    assert (row.source_session_id, row.source_pair) == (None, (None, None))
    assert row.output == "b"


def test_inserted_rows_get_their_ids_and_read_back_the_same(chatbot):
    dataset = message_dataset(chatbot)
    history = [{"role": "human", "content": 'é \\ " \t tab', "created_at": None}]
    rows = [Row(dataset=dataset, input=f"q{i}", history=history, state={"n": i}) for i in range(3)]
    inserted = snapshots.insert_rows(rows)
    assert all(row.pk for row in inserted)
    stored = {row.pk: row for row in dataset.rows.all()}
    assert [(stored[r.pk].input, stored[r.pk].history, stored[r.pk].state) for r in inserted] == [
        (f"q{i}", history, {"n": i}) for i in range(3)
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the SQL builder is PostgreSQL's")
def test_the_sql_session_builder_makes_the_same_rows_as_the_python_one(chatbot):
    whole = timezone.now().replace(microsecond=0)
    talk = SessionFactory(chatbot=chatbot, state={"a": [1, None]}, participant_data={"n": 1})
    conversation(talk, ("human", 'é \\ " \t'), ("ai", "hello"), start=whole)
    conversation(talk, ("system", "note"), start=whole.replace(microsecond=120000))
    for name in ("zeta", "Beta", "alpha"):
        SessionTag.objects.create(session=talk, tag=TagFactory(team=chatbot.team, name=name))
    quiet = SessionFactory(chatbot=chatbot, ended_at=None)
    ids = [talk.pk, quiet.pk]
    built, by_sql = session_dataset(chatbot), session_dataset(chatbot)
    snapshots.add_new_rows(
        dataset=built,
        candidates=snapshots.build_rows(dataset=built, session_ids=ids, origin=Origin.RULE),
    )
    first = snapshots.insert_session_rows(dataset=by_sql, session_ids=ids, origin=Origin.RULE)
    again = snapshots.insert_session_rows(dataset=by_sql, session_ids=ids, origin=Origin.RULE)
    fields = ["input", "output", "history", "context", "participant_data", "state", "origin"]
    fields += ["source_session_id", "source_human_message_id", "source_ai_message_id"]
    assert list(by_sql.rows.order_by("id").values(*fields)) == list(
        built.rows.order_by("id").values(*fields)
    )
    assert first == {row.source_session_id: row.pk for row in by_sql.rows.all()}
    assert again == {}
