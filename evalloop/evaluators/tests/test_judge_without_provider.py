"""A judge saved before any provider exists: it is kept, cannot run, and its pages say why."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from evalloop.datasets.models import Mode
from evalloop.datasets.tests.factories import DatasetFactory
from evalloop.evaluators import services
from evalloop.evaluators.engine import evaluate_rows
from evalloop.evaluators.kinds.llm_judge import NO_PROVIDER, without_provider
from evalloop.evaluators.models import Evaluator
from evalloop.evaluators.tests.judges import SCORE_SCHEMA, make_provider
from evalloop.runs import services as runs
from evalloop.teams.permissions import Role

PARAMS = {"model": "judge-model", "prompt": "Rate {{output}}."}
NOTICE = 'data-testid="provider-notice"'


@pytest.fixture
def judge(cast):
    return services.create_evaluator(
        team=cast.team, name="Judge", kind="llm_judge", params=PARAMS, output_schema=SCORE_SCHEMA
    )


def test_a_judge_is_saved_without_a_provider(judge):
    assert judge.params["provider"] is None
    assert judge.version is not None
    assert without_provider([judge]) == [judge]


def test_its_evaluations_say_how_to_give_it_one(judge):
    outcomes = evaluate_rows(judge.version, [{"input": "Hi", "output": "Hello"}] * 2)
    assert [outcome.error for outcome in outcomes] == [NO_PROVIDER, NO_PROVIDER]
    assert "Settings > Providers" in NO_PROVIDER


def test_choosing_a_provider_makes_it_runnable(cast, judge):
    provider = make_provider(cast.team, "http://127.0.0.1:9/v1")
    judge = services.update_evaluator(evaluator=judge, params={**PARAMS, "provider": provider.pk})
    assert without_provider([judge]) == []


def test_another_teams_provider_is_still_refused(cast):
    theirs = make_provider(cast.other_team, "http://127.0.0.1:9/v1")
    with pytest.raises(services.Invalid) as refused:
        services.create_evaluator(
            team=cast.team,
            name="Judge",
            kind="llm_judge",
            params={**PARAMS, "provider": theirs.pk},
            output_schema=SCORE_SCHEMA,
        )
    problem = (("params", "provider"), "No provider with this id in this team.")
    assert refused.value.problems == [problem]


def test_the_api_takes_a_judge_without_a_provider(api):
    body = {"name": "J", "kind": "llm_judge", "params": PARAMS, "output_schema": SCORE_SCHEMA}
    response = api(Role.EDITOR).post("/evaluators", body)
    assert response.status_code == 201
    assert response.json()["params"]["provider"] is None


def test_the_evaluator_page_says_how_to_configure_a_provider(cast, login, judge):
    body = login(cast.viewer).get(reverse("evaluators:evaluator-detail", args=[judge.pk]))
    page = body.content.decode()
    assert NOTICE in page
    assert "configure a provider under" in page
    assert reverse("evaluators:providers") in page


def test_the_config_page_names_each_judge_without_a_provider(cast, login, judge):
    dataset = DatasetFactory(team=cast.team, mode=Mode.MESSAGE)
    config = runs.create_config(team=cast.team, name="C", dataset=dataset, evaluators=[judge])
    page = login(cast.viewer).get(reverse("runs:config-detail", args=[config.pk])).content
    assert page.decode().count(NOTICE) == 1
    assert "The judge" in page.decode()


def test_no_notice_once_the_provider_is_chosen(cast, login, judge, evaluator):
    provider = make_provider(cast.team, "http://127.0.0.1:9/v1")
    services.update_evaluator(evaluator=judge, params={**PARAMS, "provider": provider.pk})
    client = login(cast.viewer)
    for each in (judge, evaluator):
        page = client.get(reverse("evaluators:evaluator-detail", args=[each.pk])).content
        assert NOTICE not in page.decode()


def test_the_form_saves_a_judge_with_no_provider_chosen(cast, login):
    form = {
        "name": "Form judge",
        "kind": "llm_judge",
        "description": "",
        "param_provider": "",
        "param_model": "judge-model",
        "param_prompt": "Rate {{output}}.",
        "param_temperature": "",
        "output_schema": json.dumps(SCORE_SCHEMA),
    }
    response = login(cast.editor).post(reverse("evaluators:evaluator-create"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = Evaluator.objects.get(name="Form judge")
    assert saved.params["provider"] is None
    page = login(cast.editor).get(response["Location"]).content.decode()
    assert NOTICE in page
