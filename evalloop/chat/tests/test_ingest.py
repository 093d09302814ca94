"""The ingestion engine: idempotent, atomic, a fixed number of queries per batch."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from evalloop.chat import ingest as ingest_module
from evalloop.chat.ingest import IngestError, IngestSummary, ingest_traffic, parse_batch
from evalloop.chat.models import Message, MessageTag, Session, SessionTag, Tag
from evalloop.chat.schemas import MAX_SESSIONS_PER_BATCH, TrafficBatch
from evalloop.chat.tests.factories import ChatbotFactory

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def chatbot(cast):
    return ChatbotFactory(team=cast.team, slug="support")


def message(n, *, role="human", tags=(), external_id=True):
    data = {"role": role, "content": f"message {n}", "created_at": (T0 + timedelta(minutes=n))}
    if external_id:
        data["external_id"] = f"m-{n}"
    return {**data, "created_at": data["created_at"].isoformat(), "tags": list(tags)}


def session(external_id="s-1", *, messages=(), chatbot="support", **fields):
    return {"chatbot": chatbot, "external_id": external_id, "messages": list(messages), **fields}


def ingest(team, *sessions):
    return ingest_traffic(team=team, batch=TrafficBatch.model_validate({"sessions": sessions}))


def stored(external_id="s-1"):
    return Session.objects.get(external_id=external_id)


def test_it_creates_sessions_with_their_messages_and_tags(cast, chatbot):
    summary = ingest(
        cast.team,
        session(
            participant="p-9",
            channel="web",
            version="v3",
            state={"step": 1},
            tags=["vip"],
            messages=[message(0), message(1, role="ai", tags=["greeting"])],
        ),
    )
    assert summary == IngestSummary(sessions_created=1, messages_created=2)
    s = stored()
    assert (s.chatbot, s.team, s.participant, s.channel, s.version) == (
        chatbot,
        cast.team,
        "p-9",
        "web",
        "v3",
    )
    assert s.state == {"step": 1}
    assert [t.name for t in s.tags.all()] == ["vip"]
    assert [(m.role, m.content) for m in s.messages.all()] == [
        ("human", "message 0"),
        ("ai", "message 1"),
    ]
    assert [t.name for t in s.messages.get(external_id="m-1").tags.all()] == ["greeting"]


def test_it_keeps_the_denormalized_counters_true(cast, chatbot):
    ingest(cast.team, session(messages=[message(0), message(3)]))
    ingest(cast.team, session(messages=[message(3), message(1), message(5)]))
    s = stored()
    assert s.message_count == s.messages.count() == 4
    assert s.last_message_at == T0 + timedelta(minutes=5)


def test_a_new_session_starts_at_its_first_message(cast, chatbot):
    ingest(cast.team, session(messages=[message(4), message(2)]))
    assert stored().created_at == T0 + timedelta(minutes=2)


def test_the_same_batch_twice_changes_nothing_the_second_time(cast, chatbot):
    batch = [
        session("s-1", tags=["vip"], ended=True, messages=[message(0, tags=["x"]), message(1)]),
        session("s-2", state={"a": 1}, messages=[message(2)]),
    ]
    ingest(cast.team, *batch)
    Session.objects.update(changed_at=LONG_AGO)
    before = list(Session.objects.order_by("pk").values())
    summary = ingest(cast.team, *batch)
    assert summary == IngestSummary(messages_skipped=3)
    assert list(Session.objects.order_by("pk").values()) == before
    assert Message.objects.count() == 3
    counts = (SessionTag.objects.count(), MessageTag.objects.count(), Tag.objects.count())
    assert counts == (1, 1, 2)


def test_a_new_message_moves_the_clock(cast, chatbot):
    ingest(cast.team, session(messages=[message(0)]))
    Session.objects.update(changed_at=LONG_AGO)
    summary = ingest(cast.team, session(messages=[message(0), message(1)]))
    assert summary == IngestSummary(sessions_updated=1, messages_created=1, messages_skipped=1)
    assert stored().changed_at > LONG_AGO


@pytest.mark.parametrize(
    "change",
    [
        {"state": {"step": 2}},
        {"participant_data": {"plan": "pro"}},
        {"participant": "p-2"},
        {"ended": True},
        {"tags": ["vip"]},
    ],
)
def test_a_changed_field_or_tag_moves_the_clock(cast, chatbot, change):
    ingest(cast.team, session(participant="p-1"))
    Session.objects.update(changed_at=LONG_AGO)
    assert ingest(cast.team, session(**change)).sessions_updated == 1
    assert stored().changed_at > LONG_AGO


def test_a_field_not_given_is_left_as_it_is(cast, chatbot):
    ingest(cast.team, session(participant="p-1", state={"a": 1}, ended=True))
    ingest(cast.team, session(channel="sms"))
    s = stored()
    assert (s.participant, s.state, s.channel, s.ended) == ("p-1", {"a": 1}, "sms", True)


def test_ended_false_reopens_a_session(cast, chatbot):
    ingest(cast.team, session(ended=True))
    ingest(cast.team, session(ended=False))
    assert stored().ended_at is None


def test_ending_again_keeps_the_first_end_time(cast, chatbot):
    ingest(cast.team, session(ended=True))
    first = stored().ended_at
    ingest(cast.team, session(ended=True))
    assert stored().ended_at == first


def test_an_end_time_can_be_given(cast, chatbot):
    ingest(cast.team, session(ended_at=T0.isoformat()))
    assert stored().ended_at == T0
    ingest(cast.team, session(ended_at=(T0 + timedelta(hours=1)).isoformat(), ended=True))
    assert stored().ended_at == T0 + timedelta(hours=1)


def test_an_end_time_with_ended_false_is_refused():
    with pytest.raises(IngestError):
        parse_batch(
            '{"sessions": [{"chatbot": "a", "external_id": "s", "ended": false, '
            '"ended_at": "2024-05-01T10:00:00Z"}]}'
        )


def test_tags_are_only_ever_added(cast, chatbot):
    ingest(cast.team, session(tags=["a"]))
    ingest(cast.team, session(tags=["b"]))
    assert sorted(t.name for t in stored().tags.all()) == ["a", "b"]


def test_messages_without_external_ids_are_always_new(cast, chatbot):
    ingest(cast.team, session(messages=[message(0, external_id=False)]))
    ingest(cast.team, session(messages=[message(0, external_id=False)]))
    assert stored().message_count == 2


def test_a_session_named_twice_in_a_batch_is_merged(cast, chatbot):
    summary = ingest(
        cast.team,
        session(participant="p-1", messages=[message(0), message(1)]),
        session(channel="sms", messages=[message(1), message(2)], tags=["t"]),
    )
    assert summary == IngestSummary(sessions_created=1, messages_created=3, messages_skipped=1)
    s = stored()
    assert (s.participant, s.channel, s.message_count) == ("p-1", "sms", 3)


def test_the_same_external_id_in_two_chatbots_is_two_sessions(cast, chatbot):
    ChatbotFactory(team=cast.team, slug="sales")
    ingest(cast.team, session(), session(chatbot="sales"))
    assert Session.objects.filter(external_id="s-1").count() == 2


def test_an_unknown_chatbot_rejects_the_batch_naming_its_index(cast, chatbot):
    with pytest.raises(IngestError) as caught:
        ingest(cast.team, session("s-1", messages=[message(0)]), session("s-2", chatbot="nope"))
    assert caught.value.errors == [{"loc": ["sessions", 1, "chatbot"], "msg": "No chatbot 'nope'."}]
    assert not Session.objects.exists()


def test_another_teams_chatbot_is_unknown(cast, chatbot):
    ChatbotFactory(team=cast.other_team, slug="theirs")
    with pytest.raises(IngestError):
        ingest(cast.team, session(chatbot="theirs"))


def test_a_failure_midway_leaves_nothing_written(cast, chatbot, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(SessionTag.objects, "bulk_create", fail)
    with pytest.raises(RuntimeError):
        ingest(cast.team, session(tags=["vip"], messages=[message(0)]))
    assert not Session.objects.exists()
    assert not Message.objects.exists()
    assert not Tag.objects.exists()


def test_a_bad_item_is_named_by_its_place_in_the_batch():
    body = '{"sessions": [{"chatbot": "a", "external_id": "s", "messages": [{"role": "bot"}]}]}'
    with pytest.raises(IngestError) as caught:
        parse_batch(body)
    [error] = caught.value.errors
    assert error["loc"] == ["sessions", 0, "messages", 0, "role"]
    assert "human" in error["msg"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ("{", []),
        ('{"sessions": [{"chatbot": "a", "external_id": ""}]}', ["sessions", 0, "external_id"]),
        (
            '{"sessions": [{"chatbot": "a", "external_id": "s", "partcipant": "x"}]}',
            ["sessions", 0, "partcipant"],
        ),
        (
            '{"sessions": [{"chatbot": "a", "external_id": "s", "messages": '
            '[{"role": "ai", "created_at": "2024-05-01T10:00:00"}]}]}',
            ["sessions", 0, "messages", 0, "created_at"],
        ),
        ('{"sessions": [{"chatbot": "a", "external_id": "s", "tags": [" "]}]}', None),
    ],
)
def test_bad_input_is_refused_with_its_place(body, loc):
    with pytest.raises(IngestError) as caught:
        parse_batch(body)
    if loc is not None:
        assert caught.value.errors[0]["loc"] == loc


def batch_of(count, offset=0):
    return [
        session(
            f"s-{offset + n}",
            tags=["vip", f"cohort-{n % 3}"],
            participant=f"p-{n}",
            messages=[message(2 * n, tags=["q"]), message(2 * n + 1, role="ai")],
        )
        for n in range(count)
    ]


def queries(team, sessions):
    with CaptureQueriesContext(connection) as captured:
        ingest(team, *sessions)
    return len(captured)


def test_the_query_count_does_not_grow_with_the_batch(cast, chatbot):
    ingest(cast.team, *batch_of(3, offset=10_000))  # the tags exist from here on
    small, large = queries(cast.team, batch_of(10)), queries(cast.team, batch_of(200, offset=10))
    assert small == large
    resent_small = queries(cast.team, batch_of(10))
    resent_large = queries(cast.team, batch_of(200, offset=10))
    assert resent_small == resent_large


def test_it_takes_the_largest_batch_allowed(cast, chatbot):
    per_session = ingest_module.MAX_MESSAGES_PER_BATCH // MAX_SESSIONS_PER_BATCH
    sessions = [
        session(f"s-{n}", messages=[message(per_session * n + i) for i in range(per_session)])
        for n in range(MAX_SESSIONS_PER_BATCH)
    ]
    summary = ingest(cast.team, *sessions)
    assert summary == IngestSummary(sessions_created=1000, messages_created=10_000)
    assert Message.objects.count() == 10_000


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers")
@pytest.mark.django_db(transaction=True)
def test_two_batches_creating_the_same_session_at_once_both_succeed(cast, monkeypatch):
    ChatbotFactory(team=cast.team, slug="support")
    runs, real_run = [], ingest_module._Ingestion.run

    def counted_run(self):
        runs.append(1)
        return real_run(self)

    monkeypatch.setattr(ingest_module._Ingestion, "run", counted_run)
    first_inserted, summaries = threading.Event(), {}
    sent = [session(messages=[message(0), message(1)])]

    def first():
        with transaction.atomic():
            summaries["first"] = ingest(cast.team, *sent)
            first_inserted.set()
            time.sleep(0.5)  # the second batch is now waiting on our new row
        connection.close()

    def second():
        first_inserted.wait()
        summaries["second"] = ingest(cast.team, *sent)
        connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert summaries["second"] == IngestSummary(messages_skipped=2)
    assert stored().message_count == 2
    assert len(runs) == 3  # the second batch ran again once the first had committed


def test_a_tag_given_later_on_a_stored_message_is_added_and_moves_the_clock(cast, chatbot):
    ingest(cast.team, session(messages=[message(1)]))
    Session.objects.update(changed_at=LONG_AGO)
    summary = ingest(cast.team, session(messages=[message(1, tags=["thumbs-down"])]))
    assert summary == IngestSummary(sessions_updated=1, messages_skipped=1)
    assert list(Message.objects.get().tags.values_list("name", flat=True)) == ["thumbs-down"]
    assert stored().changed_at > LONG_AGO


def test_a_tag_a_stored_message_already_has_changes_nothing(cast, chatbot):
    ingest(cast.team, session(messages=[message(1, tags=["thumbs-down"])]))
    Session.objects.update(changed_at=LONG_AGO)
    summary = ingest(cast.team, session(messages=[message(1, tags=["thumbs-down"])]))
    assert summary == IngestSummary(messages_skipped=1)
    assert stored().changed_at == LONG_AGO
