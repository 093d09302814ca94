"""A kind that takes an output schema, registered only by the tests that need one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field

from evalloop.evaluators.kinds.base import Outcome, RowData
from evalloop.evaluators.models import EvaluatorVersion, Provider
from evalloop.lib.inputs import Strict
from evalloop.teams.models import Team


class ScoredParams(Strict):
    """Answers the score it is given, whatever the row."""

    score: float = Field(ge=0, description="The score to answer.")
    notes: str = Field("", json_schema_extra={"widget": "textarea"})
    provider: int | None = Field(None, json_schema_extra={"widget": "provider"})
    extra: dict[str, Any] = Field(default_factory=dict)


class Scored:
    name: ClassVar[str] = "scored"
    label: ClassVar[str] = "Scored"
    params_model: ClassVar[type[Strict]] = ScoredParams
    fixed_schema: ClassVar[dict[str, Any] | None] = None

    def problems(self, *, team: Team, params: Strict) -> list[tuple[tuple[str | int, ...], str]]:
        provider = getattr(params, "provider", None)
        if (
            provider is not None
            and not Provider.objects.for_team(team).filter(pk=provider).exists()
        ):
            return [(("provider",), "No such provider in this team.")]
        return []

    def evaluate_many(self, *, version: EvaluatorVersion, rows: Sequence[RowData]) -> list[Outcome]:
        return [Outcome(output={"score": version.params["score"]}) for _ in rows]


KIND = Scored()
