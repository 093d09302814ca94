"""The one way to evaluate rows: the version's kind answers, the output schema checks it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from evalloop.datasets.models import Row
from evalloop.evaluators.kinds import get_kind
from evalloop.evaluators.kinds.base import ROW_KEYS, Outcome, RowData
from evalloop.evaluators.models import EvaluatorVersion
from evalloop.evaluators.output_schema import output_problem
from evalloop.lib.inputs import UnsafeValue, check_value

# The largest output a result stores, encoded as JSON (a model or a function may answer more).
MAX_OUTPUT_BYTES = 64 * 1024


def row_data(row: Row) -> RowData:
    """The row as evaluators see it."""
    return {key: getattr(row, key) for key in ROW_KEYS}


def evaluate_rows(version: EvaluatorVersion, rows: Sequence[RowData]) -> list[Outcome]:
    """One outcome per row, in order; an output that breaks the schema becomes an error."""
    outcomes = get_kind(version.kind).evaluate_many(version=version, rows=rows)
    return [_checked(version, outcome) for outcome in outcomes]


def _checked(version: EvaluatorVersion, outcome: Outcome) -> Outcome:
    if outcome.error or outcome.output is None:
        return replace(outcome, output=None, error=outcome.error or "no output")
    problem = output_problem(version.output_schema, outcome.output)
    if problem:
        return replace(outcome, output=None, error=f"output does not match the schema: {problem}")
    problem = _storage_problem(outcome.output)
    if problem:
        return replace(outcome, output=None, error=problem)
    return outcome


def _storage_problem(output: dict[str, object]) -> str | None:
    """Why a result could not store `output` (a NUL, a lone surrogate, its size), or None."""
    try:
        check_value(output)
    except UnsafeValue as exc:
        return f"the output cannot be stored: {exc}"
    if len(json.dumps(output).encode()) > MAX_OUTPUT_BYTES:
        return f"the output is larger than {MAX_OUTPUT_BYTES // 1024} KB"
    return None
