"""GET .../explain?session=: the decision and its reason, scoped like every rule endpoint."""

from __future__ import annotations

import pytest
from django.utils import timezone

from evalloop.autopopulate import tick
from evalloop.autopopulate.models import Completion
from evalloop.autopopulate.tests.traffic import later, session
from evalloop.chat.models import Role as Speaker
from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory, conversation
from evalloop.datasets.models import Mode
from evalloop.datasets.tests.factories import DatasetFactory, RowFactory
from evalloop.teams import flags
from evalloop.teams import services as teams
from evalloop.teams.permissions import Role

pytestmark = pytest.mark.django_db

VIP = [{"field": "tags", "op": "any_of", "value": ["vip"]}]


def explain_url(rule):
    return f"/datasets/{rule.dataset_id}/rules/{rule.pk}/explain"


def test_a_viewer_reads_why_a_session_was_filtered_out(api, make_rule, chatbot):
    rule = make_rule(filter=VIP)
    found = session(chatbot)
    response = api(Role.VIEWER).get(explain_url(rule), session=found.external_id)
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert answer["decision"] == "filtered_out"
    assert answer["reason"].startswith("Filtered out by clause 1 (tags any of vip)")
    assert (answer["clause"], answer["clause_text"]) == (1, "tags any of vip")
    assert (answer["rule"], answer["session"]) == (rule.pk, found.external_id)
    assert (answer["row_id"], answer["turns"]) == (None, [])


def test_an_added_session_names_its_row_by_its_place(api, cast, make_rule, chatbot, dataset):
    RowFactory.create_batch(2, dataset=DatasetFactory(team=cast.team, name="Elsewhere"))
    RowFactory(dataset=dataset)
    rule = make_rule()
    found = session(chatbot)
    tick.tick_rule(rule_id=rule.pk, now=later())
    answer = api(Role.VIEWER).get(explain_url(rule), session=found.external_id).json()
    row = dataset.rows.get(source_session=found)
    assert (answer["decision"], answer["row_id"], answer["row_position"]) == ("added", row.pk, 2)
    assert answer["reason"] == "Added as row 2."


def test_an_idle_session_answers_when_it_completes(api, make_rule, chatbot):
    rule = make_rule(completion=Completion.IDLE, idle_minutes=30)
    found = session(chatbot, ended=False)
    answer = api().get(explain_url(rule), session=found.external_id).json()
    assert answer["decision"] == "not_complete"
    complete_at = (found.changed_at + rule.idle).isoformat().replace("+00:00", "Z")
    assert answer["complete_at"][:19] == complete_at[:19]


def test_message_mode_answers_each_turn(api, cast, make_rule, chatbot):
    turns = DatasetFactory(team=cast.team, name="Turns", mode=Mode.MESSAGE)
    rule = make_rule(dataset=turns, completion=Completion.IMMEDIATE)
    found = session(chatbot, ended=False)
    tick.tick_rule(rule_id=rule.pk, now=later())
    conversation(found, ("human", "more"), ("ai", "sure"), start=timezone.now())
    answer = api().get(explain_url(rule), session=found.external_id).json()
    replies = found.messages.filter(role=Speaker.AI).order_by("id")
    assert answer["decision"] == "mixed"
    assert [(t["message_id"], t["decision"]) for t in answer["turns"]] == [
        (replies[0].pk, "added"),
        (replies[1].pk, "pending"),
    ]
    assert answer["turns"][0]["row_id"] == turns.rows.get().pk
    assert answer["turns"][0]["row_position"] == 1


def test_an_unknown_session_is_a_404_that_says_so(api, make_rule, cast):
    rule = make_rule()
    other_bot = ChatbotFactory(team=cast.team, slug="sales")
    elsewhere = SessionFactory(chatbot=other_bot, external_id="elsewhere")
    for external_id in ("nope", elsewhere.external_id):
        response = api().get(explain_url(rule), session=external_id)
        assert response.status_code == 404
        [problem] = response.json()["detail"]
        assert problem["msg"] == f"No session '{external_id}' of chatbot support."


def test_a_missing_session_is_a_422_naming_it(api, make_rule):
    rule = make_rule()
    for params in ({}, {"session": ""}):
        response = api().get(explain_url(rule), **params)
        assert response.status_code == 422
        assert [p["loc"] for p in response.json()["detail"]] == [["query", "session"]]


def test_the_outsider_gets_404(api, cast, make_rule, chatbot):
    rule = make_rule()
    found = session(chatbot)
    teams.set_team_flag(team=cast.other_team, name=flags.AUTO_POPULATE_DATASETS, active=True)
    outsider = api(Role.EDITOR, team=cast.other_team)
    response = outsider.get(explain_url(rule), session=found.external_id)
    assert response.status_code == 404
    assert response.json()["detail"][0]["msg"] == "Not found."


def test_a_session_of_another_team_is_unknown(api, cast, make_rule):
    rule = make_rule()
    theirs = SessionFactory(chatbot=ChatbotFactory(team=cast.other_team, slug="support"))
    response = api().get(explain_url(rule), session=theirs.external_id)
    assert response.status_code == 404


def test_the_flag_off_hides_it(api, cast, make_rule, chatbot):
    rule = make_rule()
    found = session(chatbot)
    teams.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=False)
    assert api().get(explain_url(rule), session=found.external_id).status_code == 404
