"""The client layer against a local server, through the real openai and anthropic clients."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from evalloop.evaluators.providers import (
    MAX_ATTEMPTS,
    MAX_RESULT_TOKENS,
    Ask,
    CallFailed,
    Endpoint,
    Transient,
    cost_of,
    judge_all,
    pause,
    with_retries,
)
from evalloop.evaluators.tests.judges import GOOD, SCORE_SCHEMA
from evalloop.evaluators.tests.llm_server import Step, serve

KINDS = ["openai", "anthropic"]
PRICES = {"judge-model": {"input": 2.5, "output": 10}}


@pytest.fixture(autouse=True)
def _quick_retries(settings):
    settings.EVALLOOP_LLM_RETRY_BASE_SECONDS = 0.01
    settings.EVALLOOP_LLM_TIMEOUT_SECONDS = 5


@pytest.fixture
def server():
    with serve(default=Step(answer=GOOD)) as running:
        yield running


def endpoint(server, kind: str) -> Endpoint:
    url = server.openai_url if kind == "openai" else server.anthropic_url
    return Endpoint(kind=kind, base_url=url, api_key="sk-local-key", prices=PRICES)


def ask(prompt: str = "Rate this.") -> Ask:
    return Ask(model="judge-model", system="Judge.", prompt=prompt, schema=SCORE_SCHEMA)


def one(server, kind: str):
    [outcome] = judge_all(endpoint(server, kind), [ask()])
    return outcome


@pytest.mark.parametrize("kind", KINDS)
def test_a_good_answer_is_the_output_with_usage_cost_and_latency(server, kind):
    server.script(Step(answer=GOOD, input_tokens=1000, output_tokens=200, delay_ms=20))
    outcome = one(server, kind)
    assert (outcome.output, outcome.error) == (GOOD, "")
    assert (outcome.usage.input_tokens, outcome.usage.output_tokens) == (1000, 200)
    assert outcome.usage.cost == Decimal("0.0045")  # 1000 x 2.5 + 200 x 10, per million
    assert outcome.latency_ms >= 20
    [request] = server.requests
    assert request.headers["authorization"] == "Bearer sk-local-key"
    assert request.body["model"] == "judge-model"
    assert request.prompt == "Rate this."


@pytest.mark.parametrize("kind", KINDS)
def test_token_counts_a_result_cannot_store_are_brought_into_range(server, kind):
    server.script(Step(answer=GOOD, input_tokens=2**63, output_tokens=-5))
    outcome = one(server, kind)
    assert outcome.output == GOOD
    assert outcome.usage.input_tokens == MAX_RESULT_TOKENS
    assert outcome.usage.output_tokens == 0


def test_openai_is_asked_for_the_schema_as_json_schema(server):
    one(server, "openai")
    body = server.requests[0].body
    assert server.requests[0].path == "/v1/chat/completions"
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["required"] == ["score", "verdict"]
    assert schema["properties"]["verdict"] == {"type": "string", "enum": ["good", "bad"]}
    assert "- score: a number from 1 to 5" in body["messages"][0]["content"]
    assert "temperature" not in body


def test_anthropic_is_forced_to_answer_with_a_tool_of_the_schema(server):
    one(server, "anthropic")
    body = server.requests[0].body
    assert server.requests[0].path == "/v1/messages"
    assert body["tool_choice"] == {"type": "tool", "name": "record_evaluation"}
    assert body["tools"][0]["input_schema"]["properties"]["score"] == {
        "type": "number",
        "minimum": 1,
        "maximum": 5,
    }


def test_an_unpriced_model_has_no_cost(server):
    outcome = judge_all(endpoint(server, "openai"), [ask()])[0]
    assert outcome.usage.cost is not None
    unpriced = Endpoint(kind="openai", base_url=server.openai_url, api_key="k", prices={})
    assert judge_all(unpriced, [ask()])[0].usage.cost is None
    assert cost_of({}, "m", 10, 10) is None


def test_an_answer_in_a_code_fence_is_read(server):
    server.script(Step(text='```json\n{"score": 2, "verdict": "bad"}\n```'))
    assert one(server, "openai").output == {"score": 2, "verdict": "bad"}


@pytest.mark.parametrize("kind", KINDS)
def test_an_invalid_answer_is_asked_for_once_more_and_the_second_is_kept(server, kind):
    server.script(Step(answer={"score": 9, "verdict": "good"}), Step(answer=GOOD))
    outcome = one(server, kind)
    assert outcome.output == GOOD
    assert len(server.requests) == 2
    assert "score: must be at most 5" in server.requests[1].prompt
    assert outcome.usage.input_tokens == 22  # both calls count


def test_text_that_is_not_json_twice_becomes_an_error_naming_it(server):
    server.default = Step(text="I think it is a 4.")
    outcome = one(server, "openai")
    assert outcome.output is None
    assert "does not match the output schema, twice: the answer is not JSON" in outcome.error
    assert len(server.requests) == 2


def test_an_anthropic_answer_without_the_tool_twice_becomes_an_error(server):
    server.default = Step(text="No tool for me.")
    outcome = one(server, "anthropic")
    assert "the answer is not JSON" in outcome.error
    assert len(server.requests) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_a_rate_limit_is_retried_then_succeeds(server, kind):
    server.script(Step(status=429, error="slow down"), Step(status=429), Step(answer=GOOD))
    outcome = one(server, kind)
    assert outcome.output == GOOD
    assert len(server.requests) == 3


@pytest.mark.parametrize("kind", KINDS)
def test_a_server_error_is_retried(server, kind):
    server.script(Step(status=500), Step(status=503), Step(answer=GOOD))
    assert one(server, kind).output == GOOD


def test_retry_after_sets_the_pause(server):
    server.script(Step(status=429, retry_after=0.3), Step(answer=GOOD))
    started = time.monotonic()
    assert one(server, "openai").output == GOOD
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("kind", KINDS)
def test_a_bad_request_is_an_error_at_once_with_the_providers_message(server, kind):
    server.script(Step(status=400, error="The model `gpt-5o` does not exist"))
    outcome = one(server, kind)
    assert outcome.output is None
    assert outcome.error == "the provider answered 400: The model `gpt-5o` does not exist"
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [401, 403, 404])
def test_refusals_are_not_retried(server, status):
    server.script(Step(status=status, error="no"))
    assert one(server, "openai").error == f"the provider answered {status}: no"
    assert len(server.requests) == 1


def test_a_provider_that_keeps_failing_is_an_error_after_the_attempts(server):
    server.default = Step(status=502, error="bad gateway")
    outcome = one(server, "anthropic")
    assert outcome.error == (
        f"the provider answered 502: bad gateway (gave up after {MAX_ATTEMPTS} attempts)"
    )
    assert len(server.requests) == MAX_ATTEMPTS


def test_a_timeout_is_retried(server, settings):
    settings.EVALLOOP_LLM_TIMEOUT_SECONDS = 0.3
    server.script(Step(answer=GOOD, delay_ms=1000), Step(answer=GOOD))
    outcome = one(server, "openai")
    assert outcome.output == GOOD
    assert len(server.requests) == 2


def test_an_unreachable_provider_is_an_error_after_retries(settings):
    with serve() as gone:
        url = gone.openai_url
    dead = Endpoint(kind="openai", base_url=url, api_key="k")
    [outcome] = judge_all(dead, [ask()])
    assert outcome.error.startswith("the provider cannot be reached")
    assert f"gave up after {MAX_ATTEMPTS} attempts" in outcome.error


@pytest.mark.parametrize("kind", KINDS)
def test_calls_run_concurrently_and_outcomes_keep_the_order_of_rows(server, settings, kind):
    settings.EVALLOOP_LLM_CONCURRENCY = 8
    server.default = Step(
        delay_ms=200,
        answer_with=lambda body: {"score": int(_prompt(body)[-1]), "verdict": "good"},
    )
    asks = [ask(f"row {n}") for n in (1, 2, 3, 4, 5, 1, 2, 3)]
    started = time.monotonic()
    outcomes = judge_all(endpoint(server, kind), asks)
    elapsed = time.monotonic() - started
    assert [(o.output or {}).get("score") for o in outcomes] == [1, 2, 3, 4, 5, 1, 2, 3]
    assert server.max_in_flight == 8
    assert elapsed < 0.2 * 8 / 2  # serial calls would take 1.6 s


def test_concurrency_is_bounded_by_the_setting(server, settings):
    settings.EVALLOOP_LLM_CONCURRENCY = 3
    server.default = Step(answer=GOOD, delay_ms=50)
    judge_all(endpoint(server, "openai"), [ask()] * 10)
    assert server.max_in_flight == 3


def _prompt(body):
    return body["messages"][-1]["content"]


# The retry policy alone


def test_backoff_doubles_with_jitter_and_retry_after_is_capped(settings):
    settings.EVALLOOP_LLM_RETRY_BASE_SECONDS = 1
    assert 0.5 <= pause(1, None) <= 1
    assert 2 <= pause(3, None) <= 4
    assert pause(1, 7) == 7
    assert pause(1, 3600) == 30


def test_with_retries_stops_at_the_first_success_and_sleeps_between():
    calls: list[int] = []
    pauses: list[float] = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise Transient("busy", retry_after=0.5)
        return "ok"

    assert with_retries(flaky, sleep=pauses.append) == "ok"
    assert pauses == [0.5, 0.5]


def test_with_retries_lets_a_permanent_failure_through_at_once():
    pauses: list[float] = []

    def refused():
        raise CallFailed("no")

    with pytest.raises(CallFailed, match="no"):
        with_retries(refused, sleep=pauses.append)
    assert pauses == []
