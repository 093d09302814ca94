"""`python`: a user function `evaluate(row) -> dict`, run in the sandbox (docs/sandbox.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import pydantic
from pydantic import Field

from evalloop.evaluators.kinds.base import ROW_KEYS, Outcome, RowData
from evalloop.evaluators.sandbox import MAX_CODE_CHARS, Answer, code_problems, default_pool
from evalloop.lib.inputs import Strict, UnsafeValue, check_value

if TYPE_CHECKING:
    from evalloop.evaluators.models import EvaluatorVersion
    from evalloop.teams.models import Team

CODE_HELP = (
    "Python defining evaluate(row), which answers a dict of the output schema's fields. "
    "row holds input, output, expected_output, history, context, participant_data and "
    "state; the code may import json, re, math, statistics and datetime."
)
EXAMPLE = """def evaluate(row):
    words = len(row["output"].split())
    return {"words": words, "short": words < 50}
"""


class PythonParams(Strict):
    code: str = Field(
        min_length=1,
        max_length=MAX_CODE_CHARS,
        description=CODE_HELP,
        examples=[EXAMPLE],
        json_schema_extra={"widget": "code"},
    )


class PythonKind:
    name: ClassVar[str] = "python"
    label: ClassVar[str] = "Python function"
    params_model: ClassVar[type[Strict]] = PythonParams
    fixed_schema: ClassVar[dict[str, Any] | None] = None

    def problems(self, *, team: Team, params: Strict) -> list[tuple[tuple[str | int, ...], str]]:
        """Refuse code that does not compile under the sandbox's rules, with its line."""
        if not isinstance(params, PythonParams):
            raise TypeError(f"python params expected, got {type(params).__name__}")
        return [(("code",), str(problem)) for problem in code_problems(params.code)]

    def evaluate_many(self, *, version: EvaluatorVersion, rows: Sequence[RowData]) -> list[Outcome]:
        try:
            params = PythonParams.model_validate(version.params)
        except pydantic.ValidationError as exc:
            reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
            error = f"the stored params no longer validate: {reason}"
            return [Outcome(error=error) for _ in rows]
        plain = [{key: row.get(key) for key in ROW_KEYS} for row in rows]
        return [_outcome(answer) for answer in default_pool().evaluate(params.code, plain)]


def _outcome(answer: Answer) -> Outcome:
    if answer.output is None:
        return Outcome(error=answer.error or "no output", latency_ms=answer.latency_ms)
    try:
        check_value(answer.output)
    except UnsafeValue as exc:
        return Outcome(error=f"the output cannot be stored: {exc}", latency_ms=answer.latency_ms)
    return Outcome(output=answer.output, latency_ms=answer.latency_ms)


KIND = PythonKind()
