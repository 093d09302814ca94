"""Input and output models of the evaluators API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import Field, StringConstraints

from evalloop.evaluators.services import MAX_DESCRIPTION, MAX_NAME
from evalloop.lib.inputs import Patch, Strict

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME)]
KindName = Annotated[str, StringConstraints(min_length=1, max_length=40)]
Description = Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION)]

PARAMS_HELP = "The kind's parameters (see docs/evaluators.md); unknown ones are refused."
SCHEMA_HELP = (
    'Named, typed fields: {"fields": [{"name", "type": "number"|"boolean"|"category"|"text", '
    '"min"?, "max"?, "choices"?}]}. Needed by kinds without a fixed schema; kinds with one '
    "refuse any other."
)


class EvaluatorIn(Strict):
    name: Name
    kind: KindName
    params: dict[str, Any] = Field(default_factory=dict, description=PARAMS_HELP)
    output_schema: dict[str, Any] | None = Field(None, description=SCHEMA_HELP)
    description: Description = ""


class EvaluatorPatch(Patch):
    """Fields left out keep their value; a new kind starts from the params given (or none)."""

    name: Name | None = None
    kind: KindName | None = None
    params: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    description: Description | None = None


class EvaluatorVersionRef(Schema):
    id: int
    digest: str
    created_at: datetime


class EvaluatorVersionOut(EvaluatorVersionRef):
    name: str
    kind: str
    params: dict[str, Any]
    output_schema: dict[str, Any]


class EvaluatorOut(Schema):
    id: int
    name: str
    kind: str
    params: dict[str, Any]
    output_schema: dict[str, Any]
    description: str
    version: EvaluatorVersionRef | None
    created_at: datetime
    updated_at: datetime


class EvaluatorTestRow(Strict):
    """A row to evaluate; every field is optional and empty when left out."""

    input: str = ""
    output: str = ""
    expected_output: str = ""
    history: list[Any] = Field(default_factory=list)
    context: dict[str, Any] = Field(default_factory=dict)
    participant_data: dict[str, Any] = Field(default_factory=dict)
    state: dict[str, Any] = Field(default_factory=dict)


class EvaluatorTestIn(Strict):
    row: EvaluatorTestRow = Field(default_factory=EvaluatorTestRow)


class EvaluatorUsageOut(Schema):
    input_tokens: int
    output_tokens: int
    cost: float | None


class EvaluatorTestOut(Schema):
    output: dict[str, Any] | None
    error: str
    latency_ms: int
    usage: EvaluatorUsageOut | None = None
