"""Kicks: a committed write that may complete a rule's sources ticks that rule within seconds."""

from __future__ import annotations

import io
import json
import logging
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from evalloop.autopopulate import kicks, tasks
from evalloop.autopopulate.models import Rule, Tick
from evalloop.autopopulate.tests.traffic import session
from evalloop.chat import services as chat
from evalloop.chat.ingest import ingest_traffic, parse_batch
from evalloop.chat.log_import import import_log
from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory
from evalloop.datasets.models import Mode
from evalloop.datasets.tests.factories import DatasetFactory
from evalloop.runs import tasks as run_tasks
from evalloop.runs.models import Run, RunType
from evalloop.runs.tests.conftest import fake_kinds  # noqa: F401 (an autouse fixture)
from evalloop.runs.tests.factories import make_config, make_evaluator
from evalloop.teams import flags
from evalloop.teams import services as teams
from evalloop.teams.permissions import Role


@pytest.fixture
def sent(monkeypatch):
    """The kicks sent to the broker, as (rule id, attempt, countdown); none is run."""
    calls: list[tuple[int, int, float]] = []

    def apply_async(args, countdown, **options):
        calls.append((*args, countdown))

    monkeypatch.setattr(tasks.kick, "apply_async", apply_async)
    return calls


def batch(*external_ids):
    sessions = [
        {
            "chatbot": "support",
            "external_id": external_id,
            "ended": True,
            "messages": [
                {"external_id": "m-1", "role": "human", "content": "hi"},
                {"external_id": "m-2", "role": "ai", "content": "hello"},
            ],
        }
        for external_id in external_ids
    ]
    return {"sessions": sessions}


def ingest(team, *external_ids):
    ingest_traffic(team=team, batch=parse_batch(json.dumps(batch(*external_ids))))


def rule_ids(sent):
    return sorted(rule_id for rule_id, _, _ in sent)


def test_ingested_traffic_kicks_each_watching_rule_once_on_commit(
    api, cast, chatbot, make_rule, sent, django_capture_on_commit_callbacks
):
    first = make_rule()
    second = make_rule(dataset=DatasetFactory(team=cast.team, name="Other", mode=Mode.SESSION))
    ChatbotFactory(team=cast.team, slug="sales")  # watched by no rule
    with django_capture_on_commit_callbacks(execute=True):
        response = api(Role.EDITOR).post("/traffic", batch("s-1", "s-2"))
        assert response.status_code == 200
        assert sent == []  # not before the commit
    assert rule_ids(sent) == sorted([first.pk, second.pk])
    assert {countdown for _, _, countdown in sent} == {1.0}
    assert all(rule.kick_due_at is not None for rule in Rule.objects.all())


def test_a_burst_of_writes_leaves_one_pending_kick_per_rule(
    cast, chatbot, make_rule, sent, django_capture_on_commit_callbacks
):
    rule = make_rule()
    for n in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            ingest(cast.team, f"s-{n}")
    assert sent == [(rule.pk, 0, 1.0)]


def test_a_kick_lost_long_ago_does_not_block_the_next(
    cast, chatbot, make_rule, sent, django_capture_on_commit_callbacks
):
    rule = make_rule()
    lost = timezone.now() - kicks.KICK_GRACE - timedelta(seconds=1)
    Rule.objects.filter(pk=rule.pk).update(kick_due_at=lost)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(cast.team, "s-1")
    assert rule_ids(sent) == [rule.pk]


def test_a_log_import_kicks_the_rule(chatbot, make_rule, sent, django_capture_on_commit_callbacks):
    rule = make_rule()
    log = "session_id,role,content,created_at\ns-1,human,hi,2024-05-01T10:00:00Z\n"
    with django_capture_on_commit_callbacks(execute=True):
        import_log(chatbot=chatbot, file=io.BytesIO(log.encode()), fmt="csv")
    assert rule_ids(sent) == [rule.pk]


def test_ending_a_session_kicks_the_rule(
    api, chatbot, make_rule, sent, django_capture_on_commit_callbacks
):
    rule = make_rule()
    SessionFactory(chatbot=chatbot, external_id="s-1")
    with django_capture_on_commit_callbacks(execute=True):
        response = api(Role.EDITOR).post("/chatbots/support/sessions/s-1/end")
    assert response.status_code == 200
    assert rule_ids(sent) == [rule.pk]


def test_ending_an_ended_session_again_kicks_nothing(
    chatbot, make_rule, sent, django_capture_on_commit_callbacks
):
    make_rule()
    ended = SessionFactory(chatbot=chatbot, ended_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        chat.end_session(session=ended)
    assert sent == []


def test_a_tag_change_kicks_the_rule(
    api, chatbot, make_rule, sent, django_capture_on_commit_callbacks
):
    rule = make_rule()
    SessionFactory(chatbot=chatbot, external_id="s-1")
    with django_capture_on_commit_callbacks(execute=True):
        response = api(Role.EDITOR).post(
            "/chatbots/support/sessions/s-1/tags", {"add": ["vip"], "remove": []}
        )
    assert response.status_code == 200
    assert rule_ids(sent) == [rule.pk]


def test_a_message_tag_change_kicks_the_rule(
    chatbot, make_rule, sent, django_capture_on_commit_callbacks
):
    rule = make_rule()
    message = session(chatbot).messages.first()
    with django_capture_on_commit_callbacks(execute=True):
        chat.change_message_tags(message=message, add=["vip"])
    assert rule_ids(sent) == [rule.pk]


def test_a_write_rolled_back_kicks_nothing(
    cast, chatbot, make_rule, sent, django_capture_on_commit_callbacks
):
    make_rule()

    def ingest_then_fail():
        with transaction.atomic():
            ingest(cast.team, "s-1")
            raise RuntimeError("rolled back")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        ingest_then_fail()
    assert not chatbot.sessions.exists()
    assert sent == []
    assert Rule.objects.get().kick_due_at is None


def test_resending_the_same_batch_kicks_nothing(
    cast, chatbot, make_rule, sent, django_capture_on_commit_callbacks
):
    make_rule()
    ingest(cast.team, "s-1")  # committed with the test, never announced
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ingest(cast.team, "s-1")
    assert callbacks == []
    assert sent == []


def test_a_team_with_auto_population_off_kicks_nothing(
    cast, chatbot, make_rule, sent, django_capture_on_commit_callbacks
):
    make_rule()
    teams.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=False)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(cast.team, "s-1")
    assert sent == []


def test_a_disabled_rule_is_not_kicked(
    cast, chatbot, make_rule, sent, django_capture_on_commit_callbacks
):
    make_rule(enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        ingest(cast.team, "s-1")
    assert sent == []


def test_traffic_no_rule_watches_costs_one_query(cast, chatbot, sent, django_assert_num_queries):
    with django_assert_num_queries(1):
        kicks.traffic_changed(team_id=cast.team.pk, chatbot_ids=frozenset([chatbot.pk]))
    assert sent == []


def test_a_broker_away_leaves_the_write_standing_and_warns(
    cast, chatbot, make_rule, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    make_rule(), make_rule(dataset=DatasetFactory(team=cast.team, mode=Mode.SESSION))
    attempts = []

    def refuse(*args, **options):
        attempts.append(args)
        raise OperationalError("Connection refused")

    monkeypatch.setattr(tasks.kick, "apply_async", refuse)
    warnings = caplog.at_level(logging.WARNING, logger="evalloop.autopopulate.kicks")
    with warnings, django_capture_on_commit_callbacks(execute=True):
        ingest(cast.team, "s-1")
    assert chatbot.sessions.filter(external_id="s-1").exists()
    assert "Could not kick the tick of rule" in caplog.text
    # Reaching an absent broker costs seconds: one attempt, not one per rule or per write.
    with django_capture_on_commit_callbacks(execute=True):
        ingest(cast.team, "s-2")
    assert len(attempts) == 1
    monkeypatch.setattr(kicks.breaker, "closed_until", time.monotonic() - 1)  # a minute on
    with django_capture_on_commit_callbacks(execute=True):
        ingest(cast.team, "s-3")
    assert len(attempts) == 2


def test_the_kicked_task_clears_the_mark_and_ticks_the_rule(chatbot, dataset, make_rule):
    rule = make_rule()
    session(chatbot), session(chatbot)
    Rule.objects.filter(pk=rule.pk).update(kick_due_at=timezone.now())
    tasks.kick(rule.pk)
    rule.refresh_from_db()
    assert rule.kick_due_at is None
    assert dataset.rows.filter(rule=rule).count() == 2
    assert Tick.objects.get(rule=rule).appended == 2


def test_the_kicked_task_skips_a_team_with_auto_population_off(cast, chatbot, dataset, make_rule):
    rule = make_rule()
    session(chatbot)
    teams.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=False)
    tasks.kick(rule.pk)
    assert not dataset.rows.exists()
    assert not Tick.objects.exists()


def test_a_kicked_tick_that_finds_the_rule_taken_kicks_again_once(
    chatbot, make_rule, sent, monkeypatch
):
    rule = make_rule()
    monkeypatch.setattr(kicks, "tick_rule", lambda *, rule_id: None)  # another tick holds it
    tasks.kick(rule.pk)
    assert sent == [(rule.pk, 1, 1.0)]
    Rule.objects.filter(pk=rule.pk).update(kick_due_at=None)
    tasks.kick(rule.pk, 1)
    assert sent == [(rule.pk, 1, 1.0)]


def test_the_delay_is_a_setting(cast, chatbot, make_rule, sent, settings):
    settings.EVALLOOP_TICK_KICK_DELAY_SECONDS = 0.25
    rule = make_rule()
    before = timezone.now()
    assert kicks.kick(rule_id=rule.pk, now=before)
    assert sent == [(rule.pk, 0, 0.25)]
    rule.refresh_from_db()
    assert rule.kick_due_at == before + timedelta(seconds=0.25)


def test_a_delta_run_made_by_a_kicked_tick_kicks_the_coordinator(
    chatbot, dataset, make_rule, monkeypatch, django_capture_on_commit_callbacks
):
    config = make_config(dataset, make_evaluator(dataset.team), auto_run_on_append=True)
    make_rule()
    session(chatbot)
    driven: list[int] = []
    monkeypatch.setattr(run_tasks.drive_run, "delay", driven.append)
    with django_capture_on_commit_callbacks(execute=True):
        kicks.run_kick(rule_id=Rule.objects.get().pk)
        assert driven == []  # not before the commit
    [run] = Run.objects.filter(config=config, type=RunType.DELTA)
    assert driven == [run.pk]
