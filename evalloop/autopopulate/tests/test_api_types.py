"""The rule API takes each field as its own JSON type: no `true` for the chatbot 1, no "0.5"
for a rate, no number for a time. Creation, change and both previews refuse alike."""

from __future__ import annotations

import pytest

from evalloop.autopopulate.models import Rule

pytestmark = pytest.mark.django_db

LAX = [
    ("enabled", "yes"),
    ("enabled", 1),
    ("sample_rate", "0.5"),
    ("sample_rate", True),
    ("completion", {"policy": "idle", "idle_minutes": "30"}),
    ("completion", {"policy": "idle", "idle_minutes": 30.0}),
    ("completion", {"policy": "idle", "idle_minutes": True}),
    ("start_at", 0),
    ("start_at", 1700000000.5),
]


def named(response, field):
    assert response.status_code == 422, response.json()
    return any(field in problem["loc"] for problem in response.json()["detail"])


@pytest.mark.parametrize("chatbot", [True, False, 1.0, [1], None])
def test_the_chatbot_is_an_id_or_a_slug_and_nothing_else(api, dataset, chatbot):
    response = api().post(f"/datasets/{dataset.pk}/rules", {"chatbot": chatbot})
    assert named(response, "chatbot")
    assert not Rule.objects.exists()


@pytest.mark.parametrize(("field", "value"), LAX)
def test_creation_refuses_a_value_of_another_type(api, dataset, chatbot, field, value):
    response = api().post(f"/datasets/{dataset.pk}/rules", {"chatbot": chatbot.pk, field: value})
    assert named(response, field)
    assert not Rule.objects.exists()


@pytest.mark.parametrize(("field", "value"), [*LAX, ("chatbot", True)])
def test_a_change_refuses_a_value_of_another_type(api, make_rule, field, value):
    rule = make_rule(enabled=False)
    before = Rule.objects.values().get()
    response = api().patch(f"/datasets/{rule.dataset_id}/rules/{rule.pk}", {field: value})
    assert named(response, field)
    assert Rule.objects.values().get() == before


@pytest.mark.parametrize(
    ("field", "value"), [*LAX, ("chatbot", True), ("days", "7"), ("days", 7.0)]
)
def test_the_preview_of_a_new_rule_refuses_a_value_of_another_type(
    api, dataset, chatbot, field, value
):
    body = {"chatbot": chatbot.pk, field: value}
    response = api().post(f"/datasets/{dataset.pk}/rules/preview", body)
    assert named(response, field)


@pytest.mark.parametrize("days", ["7", 7.0, True])
def test_the_preview_of_a_saved_rule_refuses_days_of_another_type(api, make_rule, days):
    rule = make_rule()
    response = api().post(f"/datasets/{rule.dataset_id}/rules/{rule.pk}/preview", {"days": days})
    assert named(response, "days")


def test_the_right_types_are_taken(api, dataset, chatbot):
    body = {
        "chatbot": "support",
        "enabled": False,
        "sample_rate": 1,
        "completion": {"policy": "idle", "idle_minutes": 30},
        "start_at": "2024-05-01T12:00:00+09:00",
    }
    response = api().post(f"/datasets/{dataset.pk}/rules", body)
    assert response.status_code == 201, response.json()
    rule = Rule.objects.get()
    assert (rule.chatbot, rule.enabled, rule.sample_rate) == (chatbot, False, 1.0)
    assert rule.start_at.isoformat() == "2024-05-01T03:00:00+00:00"
