"""`json_valid`: whether the text is JSON, and optionally whether it matches a JSON Schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field, field_validator
from referencing.exceptions import Unresolvable

from evalloop.evaluators.kinds.base import RowData
from evalloop.evaluators.kinds.deterministic import (
    Check,
    Deterministic,
    RowError,
    TextField,
    boolean_schema,
    text_field,
    text_of,
)
from evalloop.evaluators.kinds.json_valid.schemas import (
    MAX_STEPS,
    Budget,
    TooCostly,
    check_schema,
    validator,
)
from evalloop.lib.inputs import Strict, parse_json


class JsonValidParams(Strict):
    """True when the text parses as JSON and, if a JSON Schema is given, matches it."""

    schema_: dict[str, Any] | None = Field(
        None,
        alias="schema",
        description='A JSON Schema (draft 2020-12) the value must match, e.g. {"type": "object", '
        '"required": ["answer"]}. Only local $refs (#/...); patterns in RE2 syntax.',
    )
    field: TextField = text_field()

    model_config = {**Strict.model_config, "populate_by_name": False, "serialize_by_alias": True}

    @field_validator("schema_")
    @classmethod
    def _sound(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is not None:
            check_schema(schema)  # SchemaProblem is a ValueError: pydantic names the field
        return schema


class JsonValid(Deterministic[JsonValidParams]):
    name = "json_valid"
    label = "Valid JSON"
    params_model = JsonValidParams
    fixed_schema = boolean_schema("valid")

    def prepare(self, params: JsonValidParams) -> Check:
        schema, field, budget = params.schema_, params.field, Budget()
        matches = None if schema is None else validator(schema, budget).is_valid

        def check(row: RowData) -> dict[str, Any]:
            try:
                value = parse_json(text_of(row, field))
            except ValueError:
                return {"valid": False}
            budget.reset()
            return {"valid": matches is None or _checked(matches, value)}

        return check


def _checked(matches: Callable[[Any], bool], value: Any) -> bool:
    """Whether `value` matches, or the RowError that says why the schema cannot tell."""
    try:
        return matches(value)
    except TooCostly:
        raise RowError(
            f"checking this value against the JSON schema is too costly (more than "
            f"{MAX_STEPS:,} steps)"
        ) from None
    except RecursionError:
        raise RowError(
            "the value is nested too deep for the JSON schema to check, or the schema "
            "refers to itself without end"
        ) from None
    except Unresolvable as exc:
        reference = getattr(exc, "ref", "")
        raise RowError(f"the JSON schema refers to {reference!r}, which it does not hold") from None


KIND = JsonValid()
