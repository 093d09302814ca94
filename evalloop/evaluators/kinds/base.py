"""What every evaluator kind provides, and what one evaluation answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from evalloop.lib.inputs import Strict

if TYPE_CHECKING:
    from evalloop.evaluators.models import EvaluatorVersion
    from evalloop.teams.models import Team

# A row as evaluators see it: the row's seven content fields as plain JSON values.
RowData = dict[str, Any]
ROW_KEYS = (
    "input",
    "output",
    "expected_output",
    "history",
    "context",
    "participant_data",
    "state",
)


@dataclass(frozen=True)
class Usage:
    """What an LLM call cost."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost: Decimal | None = None  # None when the admin entered no price for the model


@dataclass(frozen=True)
class Outcome:
    """One evaluation: the output (matching the output schema) or an error, never both."""

    output: dict[str, Any] | None = None
    error: str = ""
    usage: Usage | None = None
    latency_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.output is not None and not self.error


class Kind(Protocol):
    """An evaluator kind: a folder under `kinds/` plus one line in the registry."""

    name: ClassVar[str]
    label: ClassVar[str]
    params_model: ClassVar[type[Strict]]
    # The output schema of deterministic kinds; None when the user gives one.
    fixed_schema: ClassVar[dict[str, Any] | None]

    def problems(self, *, team: Team, params: Strict) -> list[tuple[tuple[str | int, ...], str]]:
        """Checks beyond the params model that need the team (a provider, template names)."""
        ...

    def evaluate_many(self, *, version: EvaluatorVersion, rows: Sequence[RowData]) -> list[Outcome]:
        """Evaluate each row; one Outcome per row, in order. Never raises for a row's fault."""
        ...
