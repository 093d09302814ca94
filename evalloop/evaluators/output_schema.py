"""Output schemas: the named, typed fields an evaluator answers, and the check of an answer."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from evalloop.lib.inputs import Strict

FieldName = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$", strip_whitespace=True)
]
MAX_FIELDS = 20


class OutputField(Strict):
    name: FieldName
    type: Literal["number", "boolean", "category", "text"]
    min: float | None = None
    max: float | None = None
    choices: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] | None = Field(
        default=None, max_length=50
    )

    @model_validator(mode="after")
    def _consistent(self) -> OutputField:
        if self.type != "number" and (self.min is not None or self.max is not None):
            raise ValueError("a minimum and maximum apply only to number fields")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("the minimum must not exceed the maximum")
        if self.type == "category":
            if not self.choices:
                raise ValueError("a category field needs choices")
            if len(set(self.choices)) != len(self.choices):
                raise ValueError("its choices must differ")
        elif self.choices is not None:
            raise ValueError("choices apply only to category fields")
        return self


class OutputSchema(Strict):
    fields: list[OutputField] = Field(min_length=1, max_length=MAX_FIELDS)

    @model_validator(mode="after")
    def _unique_names(self) -> OutputSchema:
        names = [field.name for field in self.fields]
        if len(set(names)) != len(names):
            raise ValueError("field names must differ")
        return self


def output_problem(schema: dict[str, Any], output: Any) -> str | None:
    """Say how `output` fails `schema` (naming the field), or None when it matches."""
    if not isinstance(output, dict):
        return f"the output must be an object of fields, not {type(output).__name__}"
    fields = schema.get("fields", [])
    expected = {field["name"] for field in fields}
    for name in output:
        if name not in expected:
            return f"{name}: not a field of the output schema"
    for field in fields:
        if field["name"] not in output:
            return f"{field['name']}: missing from the output"
        problem = _value_problem(field, output[field["name"]])
        if problem:
            return f"{field['name']}: {problem}"
    return None


def _value_problem(field: dict[str, Any], value: Any) -> str | None:
    kind = field["type"]
    if kind == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "text":
        return None if isinstance(value, str) else "must be text"
    if kind == "category":
        choices = field.get("choices") or []
        return None if value in choices else f"must be one of {', '.join(choices)}"
    return _number_problem(field, value)


def _number_problem(field: dict[str, Any], value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number"
    if not math.isfinite(value):
        return "must be a finite number"
    if field.get("min") is not None and value < field["min"]:
        return f"must be at least {field['min']:g}"
    if field.get("max") is not None and value > field["max"]:
        return f"must be at most {field['max']:g}"
    return None
