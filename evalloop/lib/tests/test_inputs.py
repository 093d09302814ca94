from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from evalloop.lib.inputs import (
    MAX_DEPTH,
    Patch,
    Strict,
    UnsafeValue,
    check_value,
    describe_path,
    load_json,
    text_problem,
)


def nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        ("a\x00b", (), "NUL character"),
        ({"k": ["ok", "\ud800"]}, ("k", 1), "lone surrogate"),
        ({"a\x00": 1}, ("a\x00",), "a key contains a NUL"),
        ([2**63], (0,), "beyond 64 bits"),
        ([-(2**63) - 1], (0,), "beyond 64 bits"),
        ({"x": float("nan")}, ("x",), "not a finite number"),
        ({"x": float("inf")}, ("x",), "not a finite number"),
        ({"x": nested(MAX_DEPTH)}, (), "nested deeper"),
    ],
)
def test_it_names_where_an_unstorable_value_is(value, path, reason):
    with pytest.raises(UnsafeValue) as caught:
        check_value(value)
    assert caught.value.path == path
    assert reason in caught.value.reason


def test_it_keeps_what_can_be_stored():
    value = {"text": "héllo 🙂", "n": [2**63 - 1, -(2**63), 1.5, True, None], "deep": nested(30)}
    assert check_value(value) is value


def test_a_path_reads_like_javascript():
    assert describe_path(("metadata", "items", 2, "a b")) == 'metadata.items[2]["a b"]'


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a": NaN}', "NaN is not a JSON value"),
        ('{"a": -Infinity}', "-Infinity is not a JSON value"),
        ("[1e400]", "not a finite number"),
        ("[" * 100_000 + "]" * 100_000, "nested deeper"),
        ('{"a": "\\u0000"}', "NUL character"),
        (b"\xff", "not UTF-8"),
    ],
)
def test_load_json_says_what_is_wrong(text, reason):
    with pytest.raises(ValueError, match=reason):
        load_json(text)


def test_text_problem_passes_plain_and_paired_text():
    assert text_problem("plain") is None
    assert text_problem(json.loads('"\\ud83d\\ude42"')) is None  # a surrogate pair is one emoji


class Message(Strict):
    content: str = ""
    metadata: dict[str, object] = {}
    ids: list[int] = []


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"content": "a\x00"}, "content"),
        ({"metadata": {"deep": nested(40)}}, "metadata"),
        ({"metadata": {"n": float("nan")}}, "metadata"),
        ({"ids": [2**64]}, "ids"),
    ],
)
def test_strict_models_name_the_field_holding_an_unstorable_value(data, field):
    with pytest.raises(ValidationError) as caught:
        Message.model_validate(data)
    assert [error["loc"] for error in caught.value.errors()] == [(field,)]


def test_strict_models_refuse_unknown_fields():
    with pytest.raises(ValidationError):
        Message.model_validate({"contnet": "x"})


class Rename(Patch):
    nullable = frozenset({"note"})
    name: str | None = None
    note: str | None = None


def test_a_patch_refuses_null_for_a_field_that_cannot_be_empty():
    with pytest.raises(ValidationError) as caught:
        Rename.model_validate({"name": None})
    assert caught.value.errors()[0]["loc"] == ("name",)
    assert Rename.model_validate({"note": None}).model_fields_set == {"note"}
    assert Rename.model_validate({}).name is None
