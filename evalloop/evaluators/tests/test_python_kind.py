"""The python kind: its params, what it refuses when saving, and evaluation through the engine."""

from __future__ import annotations

import textwrap

import pydantic
import pytest

from evalloop.evaluators.engine import evaluate_rows
from evalloop.evaluators.kinds import get_kind
from evalloop.evaluators.kinds.python import KIND, PythonParams
from evalloop.evaluators.models import EvaluatorVersion
from evalloop.evaluators.sandbox import MAX_CODE_CHARS, close_default_pool

SCHEMA = {
    "fields": [
        {"name": "words", "type": "number", "min": 0},
        {"name": "polite", "type": "boolean"},
        {"name": "lang", "type": "category", "choices": ["en", "fr"]},
    ]
}
ROW = {
    "input": "Hello",
    "output": "Thank you, it is done.",
    "expected_output": "",
    "history": [{"role": "user", "content": "Hello"}],
    "context": {"lang": "en"},
    "participant_data": {"plan": "pro"},
    "state": {},
}
SCORER = """
def evaluate(row):
    return {
        "words": len(row["output"].split()),
        "polite": "thank" in row["output"].lower(),
        "lang": row["context"]["lang"],
    }
"""


@pytest.fixture(scope="module", autouse=True)
def _own_default_pool():
    """Start this module's evaluations on a fresh pool, and stop it afterwards."""
    close_default_pool()
    yield
    close_default_pool()


def version(code: str, schema: dict | None = None) -> EvaluatorVersion:
    return EvaluatorVersion(
        kind="python",
        params={"code": textwrap.dedent(code)},
        output_schema=SCHEMA if schema is None else schema,
        name="scorer",
        digest="0" * 16,
    )


def problems(code: str) -> list[tuple[tuple[str | int, ...], str]]:
    return KIND.problems(team=None, params=PythonParams(code=textwrap.dedent(code)))


def test_the_registry_answers_the_python_kind():
    assert get_kind("python") is KIND
    assert KIND.fixed_schema is None


def test_the_code_renders_as_a_code_field_and_is_bounded():
    schema = PythonParams.model_json_schema()["properties"]["code"]
    assert schema["widget"] == "code"
    assert schema["maxLength"] == MAX_CODE_CHARS
    for bad in ({}, {"code": ""}, {"code": "x" * (MAX_CODE_CHARS + 1)}, {"code": 1}):
        with pytest.raises(pydantic.ValidationError):
            PythonParams.model_validate(bad)
    with pytest.raises(pydantic.ValidationError, match="Extra inputs"):
        PythonParams.model_validate({"code": SCORER, "imports": ["os"]})


def test_it_accepts_code_that_defines_evaluate():
    assert problems(SCORER) == []


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("def evaluate(row):\n    return {\n", "line 2: SyntaxError: '{' was never closed"),
        (
            "def evaluate(row):\n    return row.__class__\n",
            'line 2: "__class__" is an invalid attribute name because it starts with "_".',
        ),
        ("def evaluate(row):\n    exec('1')\n", "line 2: Exec calls are not allowed."),
        ("def score(row):\n    return {}\n", "define a function evaluate(row) at the top level"),
        ("evaluate = lambda row: {}\n", "define a function evaluate(row) at the top level"),
    ],
    ids=["syntax error", "dunder", "exec", "no evaluate", "a lambda"],
)
def test_it_refuses_code_that_cannot_run_naming_the_field_and_line(code, message):
    [(loc, found)] = problems(code)
    assert loc == ("code",)
    assert message in found


def test_it_evaluates_rows_through_the_engine_in_order():
    rows = [ROW, {**ROW, "output": "No.", "context": {"lang": "fr"}}]
    outcomes = evaluate_rows(version(SCORER), rows)
    assert [outcome.output for outcome in outcomes] == [
        {"words": 5, "polite": True, "lang": "en"},
        {"words": 1, "polite": False, "lang": "fr"},
    ]
    assert all(outcome.ok and outcome.latency_ms >= 0 for outcome in outcomes)


def test_the_function_sees_exactly_the_rows_fields():
    code = """
    def evaluate(row):
        return {"keys": ",".join(sorted(row)), "plan": row["participant_data"]["plan"]}
    """
    schema = {"fields": [{"name": "keys", "type": "text"}, {"name": "plan", "type": "text"}]}
    [outcome] = evaluate_rows(version(code, schema), [{**ROW, "id": 7}])
    assert outcome.output == {
        "keys": "context,expected_output,history,input,output,participant_data,state",
        "plan": "pro",
    }


def test_an_output_off_the_schema_is_an_error_naming_the_field():
    code = """
    def evaluate(row):
        return {"words": "many", "polite": True, "lang": "en"}
    """
    [outcome] = evaluate_rows(version(code), [ROW])
    assert outcome.output is None
    assert outcome.error == "output does not match the schema: words: must be a number"


def test_user_errors_become_error_outcomes_with_their_line():
    code = """
    def evaluate(row):
        return {"words": row["missing"]}
    """
    [outcome] = evaluate_rows(version(code), [ROW])
    assert outcome.error == "KeyError: 'missing' at line 3"


def test_an_output_that_cannot_be_stored_is_an_error():
    code = """
    def evaluate(row):
        return {"note": "a" + chr(0)}
    """
    [outcome] = evaluate_rows(version(code, {"fields": [{"name": "note", "type": "text"}]}), [ROW])
    assert outcome.output is None
    assert outcome.error.startswith("the output cannot be stored: contains a NUL character")


def test_stored_params_that_no_longer_validate_are_an_error_per_row():
    broken = version(SCORER)
    broken.params = {"source": SCORER}
    outcomes = KIND.evaluate_many(version=broken, rows=[ROW, ROW])
    assert [outcome.error for outcome in outcomes] == [
        "the stored params no longer validate: Field required"
    ] * 2


def test_the_time_limit_comes_from_the_settings(settings):
    settings.EVALLOOP_PYTHON_TIMEOUT_SECONDS = 1
    close_default_pool()
    try:
        code = """
        def evaluate(row):
            while True:
                pass
        """
        [looping, fine] = [
            evaluate_rows(version(code), [ROW])[0],
            evaluate_rows(version(SCORER), [ROW])[0],
        ]
    finally:
        close_default_pool()
    assert looping.error == "evaluate() took longer than 1 s"
    assert fine.ok
