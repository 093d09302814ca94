"""Managing rules: bad input is refused naming the field, and creates nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from evalloop.autopopulate import kicks, services
from evalloop.autopopulate.models import Completion, Rule
from evalloop.chat.tests.factories import ChatbotFactory


def refused(**fields):
    with pytest.raises(ValidationError) as caught:
        fields["make"](**{k: v for k, v in fields.items() if k != "make"})
    assert not Rule.objects.exists()
    return caught.value.message_dict


def test_a_rule_starts_at_its_creation_by_default(dataset, chatbot):
    rule = services.create_rule(dataset=dataset, chatbot=chatbot.pk)
    assert rule.start_at == rule.created_at
    assert rule.enabled
    assert rule.sample_rate == 1.0
    assert Rule.objects.for_team(dataset.team).get() == rule


def test_a_chatbot_of_another_team_is_unknown(dataset, cast, make_rule):
    theirs = ChatbotFactory(team=cast.other_team)
    errors = refused(make=services.create_rule, dataset=dataset, chatbot=theirs)
    assert errors == {"chatbot": ["Unknown chatbot."]}


def test_an_invalid_filter_names_its_clause(dataset, chatbot):
    bad = [{"field": "tags", "op": "any_of", "value": ["a"]}, {"field": "nope", "op": "eq"}]
    errors = refused(make=services.create_rule, dataset=dataset, chatbot=chatbot, filter=bad)
    assert "clause 2" in errors["filter"][0]


@pytest.mark.parametrize("rate", [0, -0.1, 1.5, "half", True])
def test_a_sample_rate_out_of_range_is_refused(dataset, chatbot, rate):
    errors = refused(make=services.create_rule, dataset=dataset, chatbot=chatbot, sample_rate=rate)
    assert list(errors) == ["sample_rate"]


def test_an_unknown_completion_policy_is_refused(dataset, chatbot):
    errors = refused(
        make=services.create_rule, dataset=dataset, chatbot=chatbot, completion="eventually"
    )
    assert "completion" in errors


def test_a_start_in_the_future_is_refused(dataset, chatbot):
    soon = timezone.now() + timedelta(hours=1)
    errors = refused(make=services.create_rule, dataset=dataset, chatbot=chatbot, start_at=soon)
    assert "start_at" in errors


def test_update_validates_like_create(make_rule):
    rule = make_rule()
    with pytest.raises(ValidationError) as caught:
        services.update_rule(rule=rule, sample_rate=2, completion="never")
    assert set(caught.value.message_dict) == {"sample_rate", "completion"}
    services.update_rule(rule=rule, completion=Completion.IDLE, idle_minutes=5)
    rule.refresh_from_db()
    assert (rule.completion, rule.idle_minutes) == (Completion.IDLE, 5)


def test_deleting_a_rule_keeps_its_rows(make_rule, dataset):
    rule = make_rule()
    row = dataset.rows.create(input="made by the rule", rule=rule)
    services.delete_rule(rule=rule)
    row.refresh_from_db()
    assert row.rule_id is None


def test_disabling_and_enabling_again_clears_the_failures(make_rule):
    rule = make_rule()
    Rule.objects.filter(pk=rule.pk).update(consecutive_failures=2)
    rule = services.set_enabled(rule=rule, enabled=False)
    assert not rule.enabled
    assert rule.consecutive_failures == 2
    rule = services.set_enabled(rule=rule, enabled=True)
    assert rule.consecutive_failures == 0


def test_a_new_changed_or_reenabled_rule_ticks_within_seconds(
    cast, chatbot, dataset, monkeypatch, django_capture_on_commit_callbacks
):
    kicked: list[int] = []
    monkeypatch.setattr(kicks, "kick", lambda *, rule_id: kicked.append(rule_id))
    with django_capture_on_commit_callbacks(execute=True):
        rule = services.create_rule(dataset=dataset, chatbot=chatbot)
    with django_capture_on_commit_callbacks(execute=True):
        services.update_rule(rule=rule, sample_rate=0.5)
    with django_capture_on_commit_callbacks(execute=True):
        services.set_enabled(rule=rule, enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.update_rule(rule=rule, sample_rate=0.25)  # off: nothing to tick
    with django_capture_on_commit_callbacks(execute=True):
        services.set_enabled(rule=rule, enabled=True)
    assert kicked == [rule.pk, rule.pk, rule.pk]
