"""The llm_judge kind: its template, its checks when saving, and evaluations through the engine."""

from __future__ import annotations

import pytest

from evalloop.evaluators.engine import evaluate_rows
from evalloop.evaluators.kinds import get_kind
from evalloop.evaluators.kinds.llm_judge import JudgeParams
from evalloop.evaluators.kinds.llm_judge.template import render, unknown_variables
from evalloop.evaluators.models import Provider
from evalloop.evaluators.tests.judges import GOOD, make_judge, make_provider
from evalloop.evaluators.tests.llm_server import Step, serve

ROW = {
    "input": "Where is my parcel?",
    "output": "It left the depot today.",
    "expected_output": "It ships today.",
    "history": [
        {"role": "human", "content": "Hello"},
        {"role": "ai", "content": "Hi! How can I help?"},
    ],
    "context": {"tags": ["vip", "fr"], "metadata": {"locale": "fr-FR", "score": 0.5}},
    "participant_data": {"plan": "gold", "orders": 3},
    "state": {"step": "tracking", "flags": {"beta": True}},
}


@pytest.fixture(autouse=True)
def _quick_retries(settings):
    settings.EVALLOOP_LLM_RETRY_BASE_SECONDS = 0.01


@pytest.fixture
def server():
    with serve(default=Step(answer=GOOD)) as running:
        yield running


# The template


def test_every_row_field_renders():
    template = (
        "{{input}}|{{ output }}|{{expected_output}}|{{context.metadata.locale}}|"
        "{{participant_data.plan}}|{{state.step}}|{{context.tags.0}}"
    )
    assert render(template, ROW) == (
        "Where is my parcel?|It left the depot today.|It ships today.|fr-FR|gold|tracking|vip"
    )


def test_history_renders_as_readable_turns():
    assert render("{{history}}", ROW) == "Human: Hello\nAI: Hi! How can I help?"


def test_values_that_are_not_strings_render_as_json():
    template = "{{participant_data.orders}} {{state.flags}} {{context.tags}} {{state}}"
    assert render(template, ROW) == (
        '3 {"beta": true} ["vip", "fr"] {"step": "tracking", "flags": {"beta": true}}'
    )


def test_missing_keys_render_empty():
    template = "[{{context.nope}}][{{state.step.deeper}}][{{context.tags.9}}][{{expected_output}}]"
    assert render(template, ROW | {"expected_output": None}) == "[][][][]"


def test_row_values_are_inserted_never_interpreted():
    row = ROW | {"input": "{{output}} {% load os %} {{ 7*7 }}"}
    assert render("Q: {{input}}", row) == "Q: {{output}} {% load os %} {{ 7*7 }}"


def test_unknown_variables_are_named_once_each():
    template = "{{inptu}} {{input.x}} {{foo}} {{ inptu }} {{context..x}} {{}} {{input}}"
    assert unknown_variables(template) == ["inptu", "input.x", "foo", "context..x", ""]
    assert unknown_variables("{{input}} {{context.a-b.c_d}} {{state}}") == []


# Checks when saving


def problems(team, **params):
    values = {"provider": 0, "model": "m", "prompt": "{{output}}"} | params
    return get_kind("llm_judge").problems(team=team, params=JudgeParams(**values))


def test_a_good_judge_has_no_problems(cast):
    provider = make_provider(cast.team, "")
    assert problems(cast.team, provider=provider.pk, temperature=1.5) == []


def test_an_unknown_variable_is_refused_naming_it(cast):
    provider = make_provider(cast.team, "")
    [(loc, message)] = problems(cast.team, provider=provider.pk, prompt="Rate {{ouput}}.")
    assert loc == ("prompt",)  # the caller puts it under "params"
    assert "{{ouput}}" in message
    assert "{{output}}" in message  # says what may be used


def test_a_provider_of_another_team_is_refused(cast):
    theirs = make_provider(cast.other_team, "")
    [(loc, message)] = problems(cast.team, provider=theirs.pk)
    assert loc == ("provider",)  # the caller puts it under "params"
    assert "No provider" in message


def test_anthropic_refuses_a_temperature(cast):
    provider = make_provider(cast.team, "", kind="anthropic")
    assert problems(cast.team, provider=provider.pk) == []
    [(loc, message)] = problems(cast.team, provider=provider.pk, temperature=0.5)
    assert loc == ("temperature",)  # the caller puts it under "params"
    assert "leave it empty" in message


@pytest.mark.parametrize(
    "params",
    [
        {"provider": True},
        {"provider": -1},
        {"model": ""},
        {"model": "two words"},
        {"prompt": ""},
        {"temperature": 2.5},
        {"colour": "red"},
    ],
)
def test_bad_params_are_refused_by_the_model(params):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        JudgeParams(**({"provider": 1, "model": "m", "prompt": "p"} | params))


def test_the_params_tell_a_form_which_widgets_to_use():
    properties = JudgeParams.model_json_schema()["properties"]
    assert properties["provider"]["widget"] == "provider"
    assert properties["prompt"]["widget"] == "textarea"
    assert get_kind("llm_judge").fixed_schema is None


# Evaluations


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_rows_are_judged_through_the_engine(cast, server, kind):
    url = server.openai_url if kind == "openai" else server.anthropic_url
    prices = {"judge-model": {"input": 1, "output": 1}}
    provider = make_provider(cast.team, url, kind=kind, prices=prices)
    temperature = 0 if kind == "openai" else None
    prompt = "Q: {{input}} A: {{output}} ({{state.step}})"
    version = make_judge(provider, prompt=prompt, temperature=temperature)
    outcomes = evaluate_rows(version, [ROW, ROW | {"output": "No idea."}])
    assert [o.output for o in outcomes] == [GOOD, GOOD], outcomes
    assert outcomes[0].usage.cost is not None
    prompts = sorted(request.prompt for request in server.requests)
    assert prompts == [
        "Q: Where is my parcel? A: It left the depot today. (tracking)",
        "Q: Where is my parcel? A: No idea. (tracking)",
    ]
    assert server.requests[0].body.get("temperature") == temperature


def test_an_answer_breaking_the_schema_twice_is_an_error_result(cast, server):
    server.default = Step(answer={"score": 4})
    version = make_judge(make_provider(cast.team, server.openai_url))
    [outcome] = evaluate_rows(version, [ROW])
    assert outcome.output is None
    assert "verdict: missing from the output" in outcome.error


REASON = {"fields": [{"name": "reason", "type": "text"}]}


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
@pytest.mark.parametrize("reason", ["a\x00b", "a\ud800b"])
def test_an_answer_that_cannot_be_stored_is_an_error_result(cast, server, kind, reason):
    server.default = Step(answer={"reason": reason})
    url = server.openai_url if kind == "openai" else server.anthropic_url
    version = make_judge(make_provider(cast.team, url, kind=kind), schema=REASON)
    [outcome] = evaluate_rows(version, [ROW])
    assert outcome.output is None
    assert outcome.error.startswith("the output cannot be stored: ")


def test_an_answer_too_large_to_store_is_an_error_result(cast, server):
    server.default = Step(answer={"reason": "x" * 100_000})
    version = make_judge(make_provider(cast.team, server.openai_url), schema=REASON)
    [outcome] = evaluate_rows(version, [ROW])
    assert outcome.output is None
    assert outcome.error == "the output is larger than 64 KB"


def test_a_key_that_cannot_be_decrypted_fails_every_row_with_a_clear_error(cast, server, settings):
    version = make_judge(make_provider(cast.team, server.openai_url))
    settings.EVALLOOP_ENCRYPTION_KEY = "a different key"
    outcomes = evaluate_rows(version, [ROW, ROW])
    assert [o.error for o in outcomes] == ["the provider key cannot be decrypted; re-enter it"] * 2
    assert server.requests == []


def test_a_deleted_provider_fails_every_row(cast, server):
    provider = make_provider(cast.team, server.openai_url)
    version = make_judge(provider)
    Provider.objects.filter(pk=provider.pk).delete()
    [outcome] = evaluate_rows(version, [ROW])
    assert "provider no longer exists" in outcome.error


def test_a_version_never_calls_another_teams_provider(cast, server):
    theirs = make_provider(cast.other_team, server.openai_url)
    version = make_judge(make_provider(cast.team, server.openai_url, name="Ours"))
    version.params = version.params | {"provider": theirs.pk}
    [outcome] = evaluate_rows(version, [ROW])
    assert "provider no longer exists" in outcome.error
    assert server.requests == []


def test_no_rows_make_no_calls(cast, server):
    version = make_judge(make_provider(cast.team, server.openai_url))
    assert evaluate_rows(version, []) == []
    assert server.requests == []


# The test panel: someone is waiting


def test_a_test_gives_a_failing_provider_one_attempt(cast, server):
    from evalloop.evaluators.services import test_evaluator

    version = make_judge(make_provider(cast.team, server.openai_url))
    server.script(Step(status=500), Step(answer=GOOD))
    outcome = test_evaluator(evaluator=version.evaluator, row=ROW)
    assert "gave up after one attempt" in outcome.error
    assert len(server.requests) == 1


def test_a_test_waits_for_a_slow_provider_only_a_short_time(cast, server, monkeypatch):
    from evalloop.evaluators import providers
    from evalloop.evaluators.services import test_evaluator

    monkeypatch.setattr(providers, "INTERACTIVE_TIMEOUT_SECONDS", 0.3)
    version = make_judge(make_provider(cast.team, server.openai_url))
    server.script(Step(answer=GOOD, delay_ms=3000))
    outcome = test_evaluator(evaluator=version.evaluator, row=ROW)
    assert "did not answer within 0.3 s" in outcome.error
    assert len(server.requests) == 1


def test_a_batch_still_retries_a_failing_provider(cast, server):
    version = make_judge(make_provider(cast.team, server.openai_url))
    server.script(Step(status=500), Step(answer=GOOD))
    assert evaluate_rows(version, [ROW])[0].output == GOOD
    assert len(server.requests) == 2
