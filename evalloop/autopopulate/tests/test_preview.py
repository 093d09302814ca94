"""The preview: what a rule, saved or not, would take now, counted as the tick would decide."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from evalloop.autopopulate import preview, services
from evalloop.autopopulate.models import Entry
from evalloop.autopopulate.preview import preview_rule
from evalloop.autopopulate.tests.traffic import end, session
from evalloop.autopopulate.tick import sampled_in, tick_rule
from evalloop.chat.models import Message, Role
from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory, conversation
from evalloop.datasets.models import Mode
from evalloop.datasets.tests.factories import DatasetFactory
from evalloop.runs.tests import scenes

pytestmark = pytest.mark.django_db

VIP = [{"field": "tags", "op": "any_of", "value": ["vip"]}]


def aged(found, days):
    found.created_at = timezone.now() - timedelta(days=days)
    found.save(update_fields=["created_at"])
    return found


def test_it_counts_the_complete_matching_sessions_of_the_last_seven_days(make_rule, chatbot):
    rule = make_rule(filter=VIP, start_at=timezone.now())
    kept = [session(chatbot, tags=("vip",)) for _ in range(3)]
    session(chatbot, tags=("vip",), ended=False)  # not complete
    session(chatbot)  # filtered out
    aged(session(chatbot, tags=("vip",)), days=8)  # before the window
    session(ChatbotFactory(team=chatbot.team), tags=("vip",))  # another chatbot

    answer = preview_rule(rule=rule)

    assert (answer.would_add.count, answer.would_add.estimate) == (3, False)
    assert answer.unit == "session"
    assert [example.session_id for example in answer.examples] == [s.pk for s in kept[::-1]]
    assert answer.examples[0].url == f"/chatbots/support/sessions/{kept[-1].pk}/"
    assert answer.backfill is None


def test_an_example_says_how_many_messages_in_words(make_rule, chatbot):
    rule = make_rule()
    lone = SessionFactory(chatbot=chatbot)
    conversation(lone, ("human", "anyone there?"))
    end(lone)
    pair = session(chatbot)
    texts = {example.session_id: example.text for example in preview_rule(rule=rule).examples}
    assert texts == {lone.pk: "1 message", pair.pk: "2 messages"}


def test_the_days_widen_the_window(make_rule, chatbot):
    rule = make_rule()
    aged(session(chatbot), days=20)
    assert preview_rule(rule=rule).would_add.count == 0
    assert preview_rule(rule=rule, days=30).would_add.count == 1


def test_it_leaves_out_what_the_ledger_holds(make_rule, chatbot):
    rule = make_rule()
    first = session(chatbot)
    tick_rule(rule_id=rule.pk)
    assert Entry.objects.filter(rule=rule, session_key=first.pk).exists()
    second = session(chatbot)

    answer = preview_rule(rule=rule)

    assert answer.would_add.count == 1
    assert [example.session_id for example in answer.examples] == [second.pk]


def test_a_saved_rule_samples_exactly_as_the_tick(make_rule, chatbot):
    rule = make_rule(sample_rate=0.5)
    sessions = [session(chatbot) for _ in range(12)]
    expected = [s.pk for s in sessions if sampled_in(rule, (s.pk, 0))]

    answer = preview_rule(rule=rule)

    assert (answer.would_add.count, answer.would_add.estimate) == (len(expected), False)
    assert {example.session_id for example in answer.examples} <= set(expected)
    assert len(answer.examples) == min(5, len(expected))
    tick_rule(rule_id=rule.pk)
    assert sorted(Entry.objects.filter(rule=rule).values_list("session_key", flat=True)) == (
        expected
    )


def test_past_the_sampling_bound_the_count_is_an_estimate(make_rule, chatbot, monkeypatch):
    monkeypatch.setattr(preview, "SAMPLED_AT_MOST", 4)
    rule = make_rule(sample_rate=0.5)
    for _ in range(8):
        session(chatbot)
    answer = preview_rule(rule=rule)
    assert answer.would_add.estimate
    assert 0 <= answer.would_add.count <= 8


def test_an_unsaved_rule_estimates_with_its_rate(dataset, chatbot):
    for _ in range(10):
        session(chatbot)
    draft = services.draft_rule(dataset=dataset, chatbot=chatbot.pk, sample_rate=0.3)
    assert draft.pk is None
    answer = preview_rule(rule=draft)
    assert (answer.would_add.count, answer.would_add.estimate) == (3, True)
    assert len(answer.examples) == 5


def test_a_draft_of_a_saved_rule_keeps_its_ledger_and_changes_nothing(make_rule, chatbot):
    rule = make_rule()
    session(chatbot, tags=("vip",))
    tick_rule(rule_id=rule.pk)
    session(chatbot, tags=("vip",))
    session(chatbot)

    draft = services.draft_rule(dataset=rule.dataset, rule=rule, filter=VIP)

    assert preview_rule(rule=draft).would_add.count == 1
    rule.refresh_from_db()
    assert rule.filter == []


def test_message_mode_counts_ai_turns(cast, chatbot):
    dataset = DatasetFactory(team=cast.team, mode=Mode.MESSAGE)
    rule = services.create_rule(dataset=dataset, chatbot=chatbot, completion="immediate")
    session(chatbot)
    session(chatbot, ended=False)
    answer = preview_rule(rule=rule)
    assert (answer.would_add.count, answer.unit) == (2, "turn")
    reply = Message.objects.filter(role=Role.AI).order_by("-created_at", "-pk").first()
    assert answer.examples[0].message_id == reply.pk
    assert answer.examples[0].url.endswith(f"#message-{reply.pk}")
    assert answer.examples[0].text == "hello"


def test_the_idle_policy_waits_for_the_quiet_period(make_rule, chatbot):
    rule = make_rule(completion="idle", idle_minutes=30)
    quiet = session(chatbot, ended=False)
    quiet.changed_at = timezone.now() - timedelta(minutes=31)
    quiet.save(update_fields=["changed_at"])
    session(chatbot, ended=False)
    assert preview_rule(rule=rule).would_add.count == 1


def test_a_past_start_counts_the_backfill_and_its_evaluations(cast, make_rule, dataset, chatbot):
    scenes.config(cast.team, name="Auto", dataset=dataset, auto_run_on_append=True)
    scenes.config(cast.team, name="Manual", dataset=dataset)
    rule = make_rule(start_at=timezone.now() - timedelta(days=30))
    aged(session(chatbot), days=20)
    session(chatbot)

    answer = preview_rule(rule=rule)

    assert answer.would_add.count == 1
    assert answer.backfill is not None
    assert answer.backfill.would_add.count == 2
    assert [run.name for run in answer.backfill.auto_runs] == ["Auto"]
    assert answer.backfill.evaluations == 2


def test_without_an_auto_running_config_there_is_no_evaluation_count(make_rule, chatbot):
    rule = make_rule(start_at=timezone.now() - timedelta(days=3))
    session(chatbot)
    answer = preview_rule(rule=rule)
    assert answer.backfill is not None
    assert (answer.backfill.would_add.count, answer.backfill.evaluations) == (1, None)
