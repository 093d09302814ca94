"""The rules API: nested under the dataset, behind the team flag, validated field by field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from evalloop.autopopulate.models import TICKS_KEPT, Rule, Status, Tick
from evalloop.autopopulate.tests.traffic import session
from evalloop.autopopulate.tick import tick_rule
from evalloop.chat.tests.factories import ChatbotFactory
from evalloop.datasets.models import Mode, Row
from evalloop.datasets.tests.factories import DatasetFactory
from evalloop.teams import flags
from evalloop.teams import services as teams
from evalloop.teams.permissions import Role

pytestmark = pytest.mark.django_db

VIP = [{"field": "tags", "op": "any_of", "value": ["vip"]}]


def rules_of(dataset):
    return f"/datasets/{dataset.pk}/rules"


def rule_at(rule):
    return f"/datasets/{rule.dataset_id}/rules/{rule.pk}"


def locs(response):
    return [problem["loc"] for problem in response.json()["detail"]]


def hour_ago():
    return (timezone.now() - timedelta(hours=1)).isoformat()


# Create


def test_an_editor_creates_a_rule_with_every_field(api, dataset, chatbot):
    body = {
        "chatbot": chatbot.pk,
        "filter": VIP,
        "enabled": False,
        "completion": {"policy": "idle", "idle_minutes": 45},
        "sample_rate": 0.5,
        "start_at": hour_ago(),
        "mode": "session",
    }
    response = api().post(rules_of(dataset), body)
    assert response.status_code == 201, response.json()
    answer = response.json()
    rule = Rule.objects.get(pk=answer["id"])
    assert (rule.dataset, rule.chatbot, rule.enabled) == (dataset, chatbot, False)
    assert (rule.completion, rule.idle_minutes, rule.sample_rate) == ("idle", 45, 0.5)
    assert answer["completion"] == {"policy": "idle", "idle_minutes": 45}
    assert answer["mode"] == "session"
    assert answer["chatbot_slug"] == "support"
    assert answer["rows_contributed"] == 0
    assert answer["last_status"] == ""


def test_a_rule_names_its_chatbot_by_slug_and_defaults_the_rest(api, dataset, chatbot):
    response = api().post(rules_of(dataset), {"chatbot": "support"})
    assert response.status_code == 201, response.json()
    rule = Rule.objects.get()
    assert (rule.chatbot, rule.enabled, rule.completion, rule.sample_rate) == (
        chatbot,
        True,
        "ended",
        1.0,
    )
    assert rule.filter == []


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"sample_rate": 0}, ["body", "sample_rate"]),
        ({"sample_rate": 1.5}, ["body", "sample_rate"]),
        ({"completion": {"policy": "never"}}, ["body", "completion", "policy"]),
        ({"start_at": "2999-01-01T00:00:00Z"}, ["body", "start_at"]),
        ({"start_at": "2020-01-01T00:00:00"}, ["body", "start_at"]),
        ({"mode": "message"}, ["body", "mode"]),
        ({"partcipant": 1}, ["body", "partcipant"]),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_creates_nothing(api, dataset, chatbot, body, loc):
    response = api().post(rules_of(dataset), {"chatbot": chatbot.pk, **body})
    assert response.status_code == 422
    assert loc in locs(response)
    assert not Rule.objects.exists()


def test_a_bad_filter_names_its_clause(api, dataset, chatbot):
    flt = [*VIP, {"field": "tags", "op": "bogus", "value": ["x"]}]
    response = api().post(rules_of(dataset), {"chatbot": chatbot.pk, "filter": flt})
    assert response.status_code == 422
    assert all(loc[:3] == ["body", "filter", 1] for loc in locs(response))
    assert not Rule.objects.exists()


def test_a_chatbot_of_another_team_is_unknown(api, cast, dataset):
    theirs = ChatbotFactory(team=cast.other_team, slug="theirs")
    for ref in (theirs.pk, "theirs"):
        response = api().post(rules_of(dataset), {"chatbot": ref})
        assert response.status_code == 422
        assert locs(response) == [["body", "chatbot"]]
        assert "Unknown" in response.json()["detail"][0]["msg"]
    assert not Rule.objects.exists()


def test_the_mode_may_be_given_when_it_is_the_datasets(api, cast, chatbot):
    messages = DatasetFactory(team=cast.team, mode=Mode.MESSAGE)
    response = api().post(rules_of(messages), {"chatbot": chatbot.pk, "mode": "message"})
    assert response.status_code == 201
    assert response.json()["mode"] == "message"


# Read


def test_a_viewer_lists_and_reads_rules_with_their_status(api, dataset, make_rule):
    first, second = make_rule(), make_rule(filter=VIP)
    listed = api(Role.VIEWER).get(rules_of(dataset)).json()
    assert [item["id"] for item in listed["items"]] == [first.pk, second.pk]
    one = api(Role.VIEWER).get(rule_at(second)).json()
    assert one["filter"] == VIP
    assert set(one) >= {
        "last_run_at",
        "last_status",
        "last_error",
        "consecutive_failures",
        "rows_contributed",
    }


def test_listing_rules_takes_the_same_queries_however_many_there_are(api, dataset, make_rule):
    client = api(Role.VIEWER)
    make_rule()
    client.get(rules_of(dataset))  # the key's first use is recorded once
    with CaptureQueriesContext(connection) as one:
        assert client.get(rules_of(dataset)).json()["items"][0]["rows_contributed"] == 0
    for _ in range(9):
        make_rule()
    with CaptureQueriesContext(connection) as ten:
        assert len(client.get(rules_of(dataset)).json()["items"]) == 10
    assert len(ten) == len(one)


def test_every_answer_counts_the_rows_a_rule_added(api, dataset, make_rule, chatbot):
    session(chatbot)
    rule = make_rule()
    tick_rule(rule_id=rule.pk)
    created = api().post(rules_of(dataset), {"chatbot": chatbot.pk}).json()
    assert created["rows_contributed"] == 0
    assert api().get(rule_at(rule)).json()["rows_contributed"] == 1
    assert api().patch(rule_at(rule), {"sample_rate": 0.5}).json()["rows_contributed"] == 1


def test_a_rule_of_another_dataset_is_not_found(api, cast, make_rule):
    rule = make_rule()
    other = DatasetFactory(team=cast.team)
    assert api().get(f"/datasets/{other.pk}/rules/{rule.pk}").status_code == 404


# Change


def test_an_editor_changes_a_rule_and_switches_it_off_and_on(api, make_rule, chatbot):
    rule = make_rule()
    rule.consecutive_failures = 2
    rule.save()
    body = {"filter": VIP, "sample_rate": 0.25, "completion": {"policy": "immediate"}}
    response = api().patch(rule_at(rule), {**body, "enabled": False})
    assert response.status_code == 200, response.json()
    rule.refresh_from_db()
    assert (rule.filter, rule.sample_rate, rule.completion, rule.enabled) == (
        VIP,
        0.25,
        "immediate",
        False,
    )
    assert api().patch(rule_at(rule), {"enabled": True}).json()["consecutive_failures"] == 0


def test_a_patch_refuses_null_another_mode_and_a_bad_filter(api, make_rule):
    rule = make_rule()
    before = Rule.objects.values().get(pk=rule.pk)
    for body, loc in [
        ({"sample_rate": None}, ["body", "sample_rate"]),
        ({"mode": "message"}, ["body", "mode"]),
        ({"filter": [{"field": "nope"}]}, ["body", "filter", 0]),
        ({"start_at": "2999-01-01T00:00:00Z"}, ["body", "start_at"]),
    ]:
        response = api().patch(rule_at(rule), body)
        assert response.status_code == 422
        assert any(found[: len(loc)] == loc for found in locs(response)), locs(response)
    assert Rule.objects.values().get(pk=rule.pk) == before


# Delete


def test_deleting_a_rule_keeps_its_rows(api, make_rule, chatbot, dataset):
    rule = make_rule()
    session(chatbot)
    assert api().post(rule_at(rule) + "/run").json()["appended"] == 1
    assert api().delete(rule_at(rule)).status_code == 204
    assert not Rule.objects.exists()
    assert Row.objects.filter(dataset=dataset, rule=None).count() == 1


# Run and ticks


def test_running_a_rule_answers_the_tick_summary_and_records_it(api, make_rule, chatbot):
    rule = make_rule()
    session(chatbot)
    summary = api().post(rule_at(rule) + "/run").json()
    assert summary["rule_id"] == rule.pk
    assert (summary["status"], summary["scanned"], summary["appended"]) == ("success", 1, 1)
    [tick] = api(Role.VIEWER).get(rule_at(rule) + "/ticks").json()
    assert (tick["status"], tick["appended"], tick["error"]) == ("success", 1, "")
    assert api().get(rule_at(rule)).json()["rows_contributed"] == 1


def test_a_disabled_rule_does_not_run(api, make_rule):
    rule = make_rule(enabled=False)
    assert api().post(rule_at(rule) + "/run").status_code == 409
    assert not Tick.objects.exists()


def test_the_tick_history_holds_the_last_hundred_newest_first(api, make_rule):
    rule = make_rule()
    Tick.objects.bulk_create(Tick(rule=rule, status=Status.NO_OP) for _ in range(TICKS_KEPT + 5))
    ticks = api(Role.VIEWER).get(rule_at(rule) + "/ticks").json()
    assert len(ticks) == TICKS_KEPT
    assert ticks[0]["id"] > ticks[-1]["id"]


# Access


def test_a_viewer_cannot_write(api, dataset, make_rule, chatbot):
    rule = make_rule()
    viewer = api(Role.VIEWER)
    assert viewer.post(rules_of(dataset), {"chatbot": chatbot.pk}).status_code == 403
    assert viewer.patch(rule_at(rule), {"enabled": False}).status_code == 403
    assert viewer.post(rule_at(rule) + "/run").status_code == 403
    assert viewer.delete(rule_at(rule)).status_code == 403
    rule.refresh_from_db()
    assert rule.enabled
    assert Rule.objects.count() == 1


def test_the_outsider_gets_404_everywhere(api, cast, dataset, make_rule):
    rule = make_rule()
    teams.set_team_flag(team=cast.other_team, name=flags.AUTO_POPULATE_DATASETS, active=True)
    outsider = api(Role.EDITOR, team=cast.other_team)
    assert_all_not_found(outsider, dataset, rule)
    assert Rule.objects.get().enabled


def test_the_flag_off_hides_every_endpoint(api, cast, dataset, make_rule):
    rule = make_rule()
    teams.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=False)
    assert_all_not_found(api(), dataset, rule)
    assert_all_not_found(api(Role.VIEWER), dataset, rule)
    assert Rule.objects.get().enabled


def assert_all_not_found(client, dataset, rule):
    answers = [
        client.get(rules_of(dataset)),
        client.post(rules_of(dataset), {"chatbot": rule.chatbot_id}),
        client.get(rule_at(rule)),
        client.patch(rule_at(rule), {"enabled": False}),
        client.post(rule_at(rule) + "/run"),
        client.get(rule_at(rule) + "/ticks"),
        client.post(rule_at(rule) + "/preview", {}),
        client.post(rules_of(dataset) + "/preview", {"chatbot": rule.chatbot_id}),
        client.delete(rule_at(rule)),
    ]
    assert [response.status_code for response in answers] == [404] * len(answers)
