"""The deterministic kinds, through the one evaluation entry point."""

from __future__ import annotations

import json
import time

import pytest

from evalloop.evaluators import services
from evalloop.evaluators.engine import evaluate_rows
from evalloop.evaluators.kinds import REGISTRY, get_kind
from evalloop.evaluators.kinds.json_valid.schemas import MAX_REFS
from evalloop.evaluators.models import EvaluatorVersion
from evalloop.lib.errors import Invalid


def version(kind, **params):
    definition = services.check_definition(team=None, kind=kind, params=params, output_schema=None)
    return EvaluatorVersion(
        kind=kind, params=definition.params, output_schema=definition.output_schema
    )


def outputs(kind, rows, **params):
    outcomes = evaluate_rows(version(kind, **params), rows)
    return [outcome.output if outcome.ok else outcome.error for outcome in outcomes]


def refused(kind, **params):
    with pytest.raises(Invalid) as info:
        version(kind, **params)
    return info.value.problems


def test_every_deterministic_kind_is_registered_with_a_fixed_schema():
    for name in ("contains", "regex", "exact_match", "json_valid", "length"):
        kind = get_kind(name)
        assert kind.name == name
        assert name in REGISTRY
        assert kind.fixed_schema is not None


# contains


def test_contains_any_ignores_case_by_default():
    rows = [{"output": "Thank you!"}, {"output": "no"}, {"output": "THANK"}]
    assert outputs("contains", rows, words=["thank"]) == [
        {"match": True},
        {"match": False},
        {"match": True},
    ]


def test_contains_all_needs_every_word_and_may_tell_case():
    rows = [{"output": "Hello and bye"}, {"output": "hello and bye"}, {"output": "Hello"}]
    found = outputs("contains", rows, words=["Hello", "bye"], mode="all", case_sensitive=True)
    assert found == [{"match": True}, {"match": False}, {"match": False}]


def test_contains_reads_the_input_when_asked():
    rows = [{"input": "refund please", "output": "sure"}]
    assert outputs("contains", rows, words=["refund"], field="input") == [{"match": True}]


def test_contains_needs_at_least_one_word():
    assert [loc for loc, _ in refused("contains", words=[])] == [("params", "words")]


# regex


def test_regex_matches_anywhere_and_honours_anchors():
    rows = [{"output": "Order #123 shipped"}, {"output": "no order"}]
    assert outputs("regex", rows, pattern="#[0-9]+") == [{"match": True}, {"match": False}]
    assert outputs("regex", rows, pattern="(?i)^order")[1] == {"match": False}
    assert outputs("regex", rows, pattern="(?i)^no ORDER$")[1] == {"match": True}


def test_a_catastrophic_pattern_on_a_long_text_finishes_at_once():
    rows = [{"output": "a" * 100_000 + "b"}] * 20
    started = time.perf_counter()
    assert outputs("regex", rows, pattern="(a+)+$") == [{"match": False}] * 20
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize("pattern", ["(", "a{2,1}", "(?=x)", "\\1"])
def test_an_invalid_or_unsupported_pattern_is_refused_naming_it(pattern):
    problems = refused("regex", pattern=pattern)
    assert [loc for loc, _ in problems] == [("params", "pattern")]


# exact_match


def test_exact_match_normalizes_case_and_whitespace_by_default():
    rows = [
        {"output": "  Paris\n is  the capital ", "expected_output": "paris is the CAPITAL"},
        {"output": "Paris", "expected_output": "Lyon"},
    ]
    assert outputs("exact_match", rows) == [{"match": True}, {"match": False}]
    assert outputs("exact_match", rows[:1], normalize=False) == [{"match": False}]
    assert outputs("exact_match", [{"output": "a", "expected_output": "a"}], normalize=False) == [
        {"match": True}
    ]


# json_valid


def test_json_valid_tells_json_from_text():
    rows = [{"output": '{"a": 1}'}, {"output": "not json"}, {"output": "NaN"}, {"output": ""}]
    assert outputs("json_valid", rows) == [
        {"valid": True},
        {"valid": False},
        {"valid": False},
        {"valid": False},
    ]


def test_json_valid_checks_a_schema_with_local_references():
    schema = {
        "type": "object",
        "required": ["answer"],
        "properties": {"answer": {"$ref": "#/$defs/short"}},
        "$defs": {"short": {"type": "string", "maxLength": 5}},
    }
    rows = [
        {"output": '{"answer": "yes"}'},
        {"output": '{"answer": "certainly"}'},
        {"output": "{}"},
    ]
    assert outputs("json_valid", rows, schema=schema) == [
        {"valid": True},
        {"valid": False},
        {"valid": False},
    ]


def test_schema_patterns_run_in_linear_time():
    schema = {"type": "string", "pattern": "(a+)+$"}
    rows = [{"output": '"' + "a" * 50_000 + 'b"'}]
    started = time.perf_counter()
    assert outputs("json_valid", rows, schema=schema) == [{"valid": False}]
    assert time.perf_counter() - started < 1


def test_a_schema_that_refers_to_itself_without_end_is_an_error_result_not_a_crash():
    rows = [{"output": "1"}, {"output": "2"}]
    found = outputs("json_valid", rows, schema={"$ref": "#"})
    assert all("without end" in text for text in found)


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ({"$ref": "https://example.com/schema.json"}, "inside the schema"),
        ({"properties": {"a": {"$ref": "other.json#/x"}}}, "inside the schema"),
        ({"type": "strnig"}, "not a valid JSON schema"),
        ({"pattern": "(?<=a)b"}, "lookaround"),
        ({"patternProperties": {"^a": {}}}, "not supported"),
        ({"$schema": "http://json-schema.org/draft-04/schema#"}, "2020-12"),
        ({"allOf": [{"$ref": "#"}] * (MAX_REFS + 1)}, "at most"),
        ({"enum": ["x" * 30_000]}, "at most"),
        ({"$ref": "#/$defs/nope"}, "points nowhere"),
        ({"dependentSchemas": {"a": {"$dynamicRef": "#x"}}}, "points nowhere"),
    ],
)
def test_a_remote_invalid_or_hostile_schema_is_refused_on_save(schema, words):
    problems = refused("json_valid", schema=schema)
    assert [loc for loc, _ in problems] == [("params", "schema")]
    assert words in problems[0][1]


def test_a_schema_whose_reference_leads_nowhere_is_an_error_result_not_a_crash():
    # A nested $id moves the base of "#/..." to a document that is not there.
    schema = {"properties": {"a": {"$id": "http://h.example/t", "$ref": "#/$defs/x"}}}
    stored = EvaluatorVersion(
        kind="json_valid",
        params={"schema": schema, "field": "output"},
        output_schema=get_kind("json_valid").fixed_schema,
    )
    [outcome] = evaluate_rows(stored, [{"output": '{"a": 1}'}])
    assert "refers to" in outcome.error


def test_a_schema_check_too_costly_for_a_value_is_an_error_result_not_a_stuck_worker():
    # Small enough to save, but 600 checks on each of 100,000 items would take minutes.
    schema = {"type": "array", "items": {"allOf": [{"not": {"const": n}} for n in range(600)]}}
    rows = [{"output": json.dumps([1000] * 100_000)}, {"output": "[1000]"}]
    started = time.perf_counter()
    found = outputs("json_valid", rows, schema=schema)
    # The budget counts checks, not seconds: well under a second alone, seconds on a busy
    # machine; without it, minutes.
    assert time.perf_counter() - started < 30
    assert "too costly" in found[0]
    assert found[1] == {"valid": True}


def test_stored_params_that_no_longer_validate_say_why_in_plain_words():
    stored = EvaluatorVersion(
        kind="json_valid",
        params={"schema": {"$ref": "#/$defs/gone"}, "field": "output"},
        output_schema=get_kind("json_valid").fixed_schema,
    )
    [outcome] = evaluate_rows(stored, [{"output": "1"}])
    assert outcome.error == (
        "the stored params no longer validate: $.$ref: #/$defs/gone points nowhere in the schema"
    )


def test_a_property_named_like_a_keyword_is_only_a_name():
    schema = {"properties": {"$ref": {"type": "string"}, "pattern": {"type": "integer"}}}
    assert outputs("json_valid", [{"output": '{"pattern": 1}'}], schema=schema) == [{"valid": True}]


# length


def test_length_counts_chars_or_words_and_checks_bounds():
    rows = [{"output": "one two  three"}, {"output": ""}]
    assert outputs("length", rows) == [
        {"length": 14, "within": True},
        {"length": 0, "within": True},
    ]
    assert outputs("length", rows, unit="words", min=1, max=2) == [
        {"length": 3, "within": False},
        {"length": 0, "within": False},
    ]


def test_length_refuses_a_max_below_min_naming_max():
    problems = refused("length", min=5, max=2)
    assert [loc for loc, _ in problems] == [("params", "max")]


# Speed


def test_deterministic_kinds_evaluate_thousands_of_rows_quickly():
    rows = [
        {"input": "q", "output": f"Thanks, order #{n} ships", "expected_output": "x"}
        for n in range(2_000)
    ]
    versions = [
        version("contains", words=["thanks", "sorry"]),
        version("regex", pattern="#[0-9]+"),
        version("exact_match"),
        version("length", unit="words", max=10),
        version("json_valid"),
    ]
    started = time.perf_counter()
    for each in versions:
        assert all(outcome.ok for outcome in evaluate_rows(each, rows))
    assert time.perf_counter() - started < 1
