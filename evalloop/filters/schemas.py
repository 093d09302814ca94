"""Input and output models of the filters API."""

from __future__ import annotations

from typing import Any

from ninja import Schema

from evalloop.filters.fields import Field
from evalloop.filters.language import Target
from evalloop.filters.operators import Operator
from evalloop.lib.inputs import Strict


class ValueTypeOut(Schema):
    name: str
    description: str
    example: Any


class OperatorOut(Schema):
    name: str
    label: str
    description: str
    value_type: ValueTypeOut

    @classmethod
    def of(cls, operator: Operator) -> OperatorOut:
        value = operator.value
        value_type = ValueTypeOut(
            name=value.name, description=value.description, example=value.example
        )
        return cls(
            name=operator.name,
            label=operator.label,
            description=operator.description,
            value_type=value_type,
        )


class FieldOut(Schema):
    name: str
    label: str
    description: str
    operators: list[OperatorOut]

    @classmethod
    def of(cls, field: Field) -> FieldOut:
        operators = [OperatorOut.of(operator) for operator in field.operators]
        return cls(
            name=field.name, label=field.label, description=field.description, operators=operators
        )


class FieldsOut(Schema):
    target: Target
    fields: list[FieldOut]


class ValidateIn(Strict):
    target: Target
    filter: Any  # the JSON form: a list of {"field", "op", "value"}


class ValidOut(Schema):
    valid: bool
    description: list[str]  # one English phrase per clause
