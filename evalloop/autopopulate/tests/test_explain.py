"""Explain: each decision and its reason, in agreement with what the tick does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from evalloop.autopopulate import explain as explain_module
from evalloop.autopopulate import services, tick
from evalloop.autopopulate.explain import Decision, explain, explain_rules
from evalloop.autopopulate.models import Completion, Entry
from evalloop.autopopulate.tests.traffic import end, later, session, tag
from evalloop.chat.models import Role
from evalloop.chat.tests.factories import conversation
from evalloop.datasets.models import Mode, Origin
from evalloop.datasets.snapshots import snapshot_chunk
from evalloop.datasets.tests.factories import DatasetFactory, RowFactory

pytestmark = pytest.mark.django_db

VIP = [{"field": "tags", "op": "any_of", "value": ["vip"]}]
WEB_AND_VIP = [{"field": "channel", "op": "eq", "value": "web"}, *VIP]


def rows_elsewhere(cast):
    """Rows of another dataset first, so a row's id and its place in its dataset differ."""
    RowFactory.create_batch(3, dataset=DatasetFactory(team=cast.team, name="Elsewhere"))


def sampled_out_session(chatbot, rule):
    for _ in range(64):
        found = session(chatbot)
        if not tick.sampled_in(rule, (found.pk, 0)):
            return found
    raise AssertionError("no session sampled out in 64 tries")


@pytest.fixture
def turns(cast):
    return DatasetFactory(team=cast.team, name="Turns", mode=Mode.MESSAGE)


# Session mode, one decision at a time


def test_a_session_created_before_the_start_is_before_start(make_rule, chatbot):
    old = session(chatbot)
    rule = make_rule(start_at=timezone.now())
    answer = explain(rule=rule, session=old)
    assert answer.decision == Decision.BEFORE_START
    assert "before the rule's start" in answer.reason


def test_an_open_session_waits_for_its_end(make_rule, chatbot):
    rule = make_rule()
    answer = explain(rule=rule, session=session(chatbot, ended=False), now=later())
    assert answer.decision == Decision.NOT_COMPLETE
    assert answer.reason == "The session has not ended; the rule waits for the session to end."


def test_an_idle_session_says_when_it_becomes_complete(make_rule, chatbot, dataset):
    rule = make_rule(completion=Completion.IDLE, idle_minutes=30)
    quiet = session(chatbot, ended=False)
    answer = explain(rule=rule, session=quiet, now=later(minutes=29))
    assert answer.decision == Decision.NOT_COMPLETE
    assert answer.complete_at == quiet.changed_at + timedelta(minutes=30)
    assert "30 minutes after its last change" in answer.reason
    assert explain(rule=rule, session=quiet, now=later(minutes=31)).decision == Decision.PENDING


def test_an_immediate_rule_takes_an_open_session(make_rule, chatbot):
    rule = make_rule(completion=Completion.IMMEDIATE)
    answer = explain(rule=rule, session=session(chatbot, ended=False), now=later())
    assert answer.decision == Decision.PENDING


def test_it_names_the_first_clause_that_fails(make_rule, chatbot):
    rule = make_rule(filter=WEB_AND_VIP)
    answer = explain(rule=rule, session=session(chatbot), now=later())
    assert answer.decision == Decision.FILTERED_OUT
    assert (answer.clause, answer.clause_text) == (2, "tags any of vip")
    assert answer.reason.startswith("Filtered out by clause 2 (tags any of vip)")


def test_a_tag_added_later_turns_filtered_out_into_pending(make_rule, chatbot):
    rule = make_rule(filter=VIP)
    found = session(chatbot)
    assert explain(rule=rule, session=found, now=later()).decision == Decision.FILTERED_OUT
    tag(found, "vip")
    assert explain(rule=rule, session=found, now=later()).decision == Decision.PENDING


def test_a_sampled_out_session_stays_out(make_rule, chatbot, dataset):
    rule = make_rule(sample_rate=0.5)
    out = sampled_out_session(chatbot, rule)
    answer = explain(rule=rule, session=out, now=later())
    assert answer.decision == Decision.SAMPLED_OUT
    assert "keeps 50% of its sources" in answer.reason
    tick.tick_rule(rule_id=rule.pk, now=later())
    assert not dataset.rows.filter(source_session=out).exists()
    assert explain(rule=rule, session=out, now=later()).decision == Decision.SAMPLED_OUT


def test_a_complete_matching_session_is_pending_then_added(cast, make_rule, chatbot, dataset):
    rows_elsewhere(cast)
    rule = make_rule()
    found = session(chatbot)
    pending = explain(rule=rule, session=found, now=later())
    assert pending.decision == Decision.PENDING
    assert pending.reason.endswith("the next tick adds it.")
    tick.tick_rule(rule_id=rule.pk, now=later())
    added = explain(rule=rule, session=found, now=later())
    row = dataset.rows.get(source_session=found)
    assert row.pk != 1
    assert (added.decision, added.row_id, added.row_position, added.reason) == (
        Decision.ADDED,
        row.pk,
        1,
        "Added as row 1.",
    )


def test_a_deleted_row_stays_in_the_ledger(make_rule, chatbot, dataset):
    rule = make_rule()
    found = session(chatbot)
    tick.tick_rule(rule_id=rule.pk, now=later())
    dataset.rows.get(source_session=found).delete()
    answer = explain(rule=rule, session=found, now=later())
    assert answer.decision == Decision.IN_LEDGER
    assert answer.row_id is None
    assert "its row was deleted; the rule will not add it again" in answer.reason
    tick.tick_rule(rule_id=rule.pk, now=later())
    assert not dataset.rows.exists()


def test_a_source_the_dataset_already_held_names_that_row(cast, make_rule, chatbot, dataset):
    rows_elsewhere(cast)
    rule = make_rule()
    found = session(chatbot)
    RowFactory(dataset=dataset)
    snapshot_chunk(dataset=dataset, session_ids=[found.pk], origin=Origin.IMPORT)
    held = dataset.rows.get(source_session=found)
    pending = explain(rule=rule, session=found, now=later())
    assert (pending.decision, pending.row_id, pending.row_position) == (
        Decision.PENDING,
        held.pk,
        2,
    )
    assert "already holds it as row 2, so no second row" in pending.reason
    tick.tick_rule(rule_id=rule.pk, now=later())
    answer = explain(rule=rule, session=found, now=later())
    assert (answer.decision, answer.row_id) == (Decision.IN_LEDGER, held.pk)
    assert answer.reason.endswith("the dataset holds this source as row 2.")
    assert Entry.objects.get(rule=rule).row_id is None


def test_the_ledger_answers_first_whatever_the_rule_became(make_rule, chatbot, dataset):
    rule = make_rule()
    found = session(chatbot)
    tick.tick_rule(rule_id=rule.pk, now=later())
    rule = services.update_rule(rule=rule, filter=VIP)
    services.set_enabled(rule=rule, enabled=False)
    rule.refresh_from_db()
    assert explain(rule=rule, session=found, now=later()).decision == Decision.ADDED


def test_a_switched_off_rule_says_what_it_would_do(make_rule, chatbot):
    rule = make_rule(filter=VIP, enabled=False)
    found = session(chatbot)
    answer = explain(rule=rule, session=found, now=later())
    assert (answer.decision, answer.then, answer.clause) == (
        Decision.DISABLED,
        Decision.FILTERED_OUT,
        1,
    )
    assert answer.reason.startswith("The rule is switched off, so it takes nothing. Once on:")
    tag(found, "vip")
    answer = explain(rule=rule, session=found, now=later())
    assert (answer.decision, answer.then) == (Decision.DISABLED, Decision.PENDING)


def test_explain_agrees_with_the_tick(make_rule, chatbot, dataset):
    rule = make_rule(filter=VIP, sample_rate=0.6)
    sessions = [session(chatbot, tags=("vip",) if i % 3 else ()) for i in range(12)]
    sessions.append(session(chatbot, ended=False, tags=("vip",)))
    now = later()
    pending = {
        s.pk for s in sessions if explain(rule=rule, session=s, now=now).decision == "pending"
    }
    tick.tick_rule(rule_id=rule.pk, now=now)
    assert set(dataset.rows.values_list("source_session_id", flat=True)) == pending
    after = {s.pk for s in sessions if explain(rule=rule, session=s, now=now).decision == "added"}
    assert after == pending


# Message mode: each AI turn


def test_message_mode_explains_each_turn(make_rule, chatbot, turns):
    rule = make_rule(dataset=turns, completion=Completion.IMMEDIATE)
    found = session(chatbot, ended=False)
    conversation(found, ("human", "more"), ("ai", "sure"), start=timezone.now())
    tick.tick_rule(rule_id=rule.pk, now=later())
    first, second = turns.rows.order_by("id")
    second.delete()
    [unanswered] = conversation(found, ("human", "and then?"), start=later(minutes=5))
    answer = explain(rule=rule, session=found, now=later())
    assert answer.decision == Decision.MIXED
    assert answer.reason == "3 turns: 1 added, 1 taken before without a row, 1 not complete."
    ai_ids = list(found.messages.filter(role=Role.AI).order_by("id").values_list("id", flat=True))
    assert [(t.message_id, t.decision, t.row_id, t.row_position) for t in answer.turns] == [
        (ai_ids[0], Decision.ADDED, first.pk, 1),
        (ai_ids[1], Decision.IN_LEDGER, None, None),
        (unanswered.pk, Decision.NOT_COMPLETE, None, None),
    ]
    assert "no AI reply yet" in answer.turns[2].reason


def test_message_mode_turns_share_the_sessions_refusal(make_rule, chatbot, turns):
    rule = make_rule(dataset=turns, filter=VIP)
    found = session(chatbot)
    conversation(found, ("human", "more"), ("ai", "sure"), start=timezone.now())
    answer = explain(rule=rule, session=found, now=later())
    assert (answer.decision, answer.clause) == (Decision.FILTERED_OUT, 1)
    assert [t.decision for t in answer.turns] == [Decision.FILTERED_OUT] * 2
    assert all(t.message_id for t in answer.turns)


def test_message_mode_pending_turns_go_in_on_the_tick(make_rule, chatbot, turns):
    rule = make_rule(dataset=turns)
    found = session(chatbot)
    answer = explain(rule=rule, session=found, now=later())
    assert answer.decision == Decision.PENDING
    [turn] = answer.turns
    tick.tick_rule(rule_id=rule.pk, now=later())
    row = turns.rows.get()
    assert row.source_ai_message_id == turn.message_id
    assert explain(rule=rule, session=found, now=later()).row_id == row.pk


def test_message_mode_session_without_turns(make_rule, chatbot, turns):
    rule = make_rule(dataset=turns, completion=Completion.IMMEDIATE)
    found = session(chatbot, ended=False)
    found.messages.all().delete()
    answer = explain(rule=rule, session=found, now=later())
    assert answer.decision == Decision.NO_TURNS
    assert answer.turns == []
    end(found)
    closed = make_rule(dataset=turns, start_at=timezone.now())
    assert explain(rule=closed, session=found, now=later()).decision == Decision.BEFORE_START


def test_one_session_is_explained_for_several_rules_at_once(make_rule, chatbot, turns):
    whole = make_rule(filter=VIP)
    each = make_rule(dataset=turns)
    found = session(chatbot)
    answers = explain_rules(rules=[whole, each], session=found, now=later())
    assert [answer.decision for answer in answers] == [Decision.FILTERED_OUT, Decision.PENDING]


def test_a_ledgered_source_does_not_run_the_filter(make_rule, chatbot, monkeypatch):
    rule = make_rule(filter=VIP)
    found = session(chatbot, tags=("vip",))
    tick.tick_rule(rule_id=rule.pk, now=later())

    def unwanted(rule, session):
        raise AssertionError("the filter ran for a source the ledger answers")

    monkeypatch.setattr(explain_module, "_filtered_out", unwanted)
    assert explain(rule=rule, session=found, now=later()).decision == Decision.ADDED
