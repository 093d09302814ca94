"""What the deterministic kinds share: a check prepared once per batch, then run per row."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar, cast

import pydantic
from pydantic import Field

from evalloop.evaluators.kinds.base import Outcome, RowData
from evalloop.lib.inputs import Strict

if TYPE_CHECKING:
    from evalloop.evaluators.models import EvaluatorVersion
    from evalloop.teams.models import Team

# The text fields of a row a check may read.
TextField = Literal["output", "input", "expected_output"]
FIELD_HELP = (
    "Which text of the row to check: the output (the reply), the input, or the expected output."
)


def text_field(default: TextField = "output") -> Any:
    return Field(default, description=FIELD_HELP)


def text_of(row: RowData, field: str) -> str:
    """The row's text in `field`; a missing value is empty text."""
    value = row.get(field)
    if isinstance(value, str):
        return value
    return "" if value is None else str(value)


def boolean_schema(name: str) -> dict[str, Any]:
    return {"fields": [{"name": name, "type": "boolean"}]}


class RowError(ValueError):
    """A row this check cannot answer for; the message becomes the row's error result."""


P = TypeVar("P", bound=Strict)
Check = Callable[[RowData], dict[str, Any]]


class Deterministic(ABC, Generic[P]):
    """A kind that needs no team resources and answers from the row alone, fast."""

    name: ClassVar[str]
    label: ClassVar[str]
    params_model: ClassVar[type[Strict]]
    fixed_schema: ClassVar[dict[str, Any] | None]

    def problems(self, *, team: Team, params: Strict) -> list[tuple[tuple[str | int, ...], str]]:
        return []

    def evaluate_many(self, *, version: EvaluatorVersion, rows: Sequence[RowData]) -> list[Outcome]:
        try:
            params = self.params_model.model_validate(version.params)
        except pydantic.ValidationError as exc:
            reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
            error = f"the stored params no longer validate: {reason}"
            return [Outcome(error=error) for _ in rows]
        check = self.prepare(cast(P, params))
        outcomes = []
        for row in rows:
            try:
                outcomes.append(Outcome(output=check(row)))
            except RowError as exc:
                outcomes.append(Outcome(error=str(exc)))
        return outcomes

    @abstractmethod
    def prepare(self, params: P) -> Check:
        """The check of one row, with everything that costs (compiling) done once here."""
