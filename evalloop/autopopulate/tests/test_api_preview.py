"""The preview endpoints: a saved rule's, and a rule's before it is created."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from evalloop.autopopulate.models import Rule
from evalloop.autopopulate.tests.traffic import session
from evalloop.chat.tests.factories import ChatbotFactory
from evalloop.runs.tests import scenes
from evalloop.teams.permissions import Role

pytestmark = pytest.mark.django_db

VIP = [{"field": "tags", "op": "any_of", "value": ["vip"]}]


def preview_of(rule):
    return f"/datasets/{rule.dataset_id}/rules/{rule.pk}/preview"


def new_preview(dataset):
    return f"/datasets/{dataset.pk}/rules/preview"


def test_a_viewer_previews_a_saved_rule(api, make_rule, chatbot):
    rule = make_rule(filter=VIP, start_at=timezone.now())
    vip = session(chatbot, tags=("vip",))
    session(chatbot)

    response = api(Role.VIEWER).post(preview_of(rule), {})

    assert response.status_code == 200, response.json()
    answer = response.json()
    assert (answer["would_add"], answer["estimate"], answer["days"]) == (1, False, 7)
    assert answer["unit"] == "session"
    assert answer["backfill"] is None
    assert answer["evaluations"] is None
    [example] = answer["examples"]
    assert (example["session"], example["session_id"]) == (vip.external_id, vip.pk)
    assert example["url"] == f"/chatbots/support/sessions/{vip.pk}/"


def test_the_body_may_be_left_out(api, make_rule, chatbot):
    rule = make_rule()
    session(chatbot)
    response = api().post(preview_of(rule))
    assert response.status_code == 200, response.json()
    assert response.json()["would_add"] == 1


@pytest.mark.parametrize("days", [0, 91, -1, "seven", 2.5])
def test_days_out_of_range_is_a_422(api, make_rule, days):
    response = api().post(preview_of(make_rule()), {"days": days})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "days"


def test_a_past_start_answers_the_backfill_and_its_evaluations(
    api, cast, dataset, make_rule, chatbot
):
    scenes.config(cast.team, name="Auto", dataset=dataset, auto_run_on_append=True)
    rule = make_rule(start_at=timezone.now() - timedelta(days=30))
    old = session(chatbot)
    old.created_at = timezone.now() - timedelta(days=20)
    old.save(update_fields=["created_at"])
    session(chatbot)

    answer = api().post(preview_of(rule), {"days": 30}).json()

    assert answer["would_add"] == 2
    assert answer["backfill"]["would_add"] == 2
    assert answer["evaluations"] == 2


def test_a_rule_is_previewed_before_it_is_created(api, dataset, chatbot):
    session(chatbot, tags=("vip",))
    session(chatbot)
    body = {"chatbot": "support", "filter": VIP, "sample_rate": 1, "days": 3}

    response = api(Role.VIEWER).post(new_preview(dataset), body)

    assert response.status_code == 200, response.json()
    assert (response.json()["would_add"], response.json()["days"]) == (1, 3)
    assert Rule.objects.count() == 0


def test_an_unsaved_rule_below_full_rate_is_an_estimate(api, dataset, chatbot):
    for _ in range(4):
        session(chatbot)
    answer = api().post(new_preview(dataset), {"chatbot": chatbot.pk, "sample_rate": 0.5}).json()
    assert (answer["would_add"], answer["estimate"]) == (2, True)


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"chatbot": "nope"}, ["body", "chatbot"]),
        ({"filter": []}, ["body", "chatbot"]),
        (
            {"chatbot": "support", "filter": [{}, {"field": "nope", "op": "eq", "value": 1}]},
            ["body", "filter", 0],
        ),
        ({"chatbot": "support", "sample_rate": 0}, ["body", "sample_rate"]),
        (
            {"chatbot": "support", "completion": {"policy": "later"}},
            ["body", "completion", "policy"],
        ),
        ({"chatbot": "support", "mode": "message"}, ["body", "mode"]),
        ({"chatbot": "support", "days": 100}, ["body", "days"]),
    ],
)
def test_bad_input_is_refused_as_on_creation(api, dataset, chatbot, body, loc):
    response = api().post(new_preview(dataset), body)
    assert response.status_code == 422, response.json()
    assert response.json()["detail"][0]["loc"][: len(loc)] == loc


def test_a_chatbot_of_another_team_is_unknown(api, cast, dataset):
    other = ChatbotFactory(team=cast.other_team)
    response = api().post(new_preview(dataset), {"chatbot": other.pk})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "chatbot"]


def test_a_future_start_is_refused(api, dataset, chatbot):
    later = (timezone.now() + timedelta(days=1)).isoformat()
    response = api().post(new_preview(dataset), {"chatbot": chatbot.pk, "start_at": later})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "start_at"]
