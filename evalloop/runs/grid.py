"""A run's results laid out as a table: a line per plan row, columns per evaluator field.

The run page shows a page of lines and the CSV export streams all of them; both read the plan
rows in position order with the run's results of those rows fetched alongside, one query each
per page or chunk, so neither cost grows with the lines already read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet

from evalloop.datasets.models import Row
from evalloop.evaluators.models import EvaluatorVersion
from evalloop.runs.models import Result, Run, RunEvaluator, RunRow


@dataclass(frozen=True)
class Field:
    name: str
    type: str


@dataclass(frozen=True)
class Column:
    """An evaluator version of the plan with the fields of its output schema."""

    version: EvaluatorVersion
    fields: tuple[Field, ...]

    @property
    def name(self) -> str:
        return self.version.name

    @property
    def width(self) -> int:
        return max(1, len(self.fields))


@dataclass(frozen=True)
class Cell:
    """One evaluator's answer for one row: its field values, its error, or nothing yet."""

    column: Column
    result: Result | None

    @property
    def error(self) -> str:
        return self.result.error if self.result is not None else ""

    @property
    def pending(self) -> bool:
        return self.result is None

    @property
    def values(self) -> list[Any]:
        output = self.result.output if self.result is not None else None
        found = output if isinstance(output, dict) else {}
        return [found.get(field.name) for field in self.column.fields]

    @property
    def pairs(self) -> list[tuple[Field, Any]]:
        return list(zip(self.column.fields, self.values, strict=True))


@dataclass(frozen=True)
class Line:
    row: Row
    position: int
    cells: list[Cell]


def schema_fields(version: EvaluatorVersion) -> tuple[Field, ...]:
    """The fields a version answers, as its stored output schema lists them."""
    schema = version.output_schema if isinstance(version.output_schema, dict) else {}
    return tuple(
        Field(str(field.get("name", "")), str(field.get("type", "text")))
        for field in schema.get("fields", [])
        if isinstance(field, dict)
    )


def columns(run: Run) -> list[Column]:
    plan = RunEvaluator.objects.filter(run=run).select_related("version").order_by("position")
    return [Column(each.version, schema_fields(each.version)) for each in plan]


def plan_rows(run: Run) -> QuerySet[RunRow]:
    """The plan's rows in order, each row carrying this run's results as `run_results`."""
    results = Prefetch(
        "row__results", queryset=Result.objects.filter(run=run), to_attr="run_results"
    )
    return (
        RunRow.objects.filter(run=run)
        .select_related("row__source_session__chatbot")
        .prefetch_related(results)
        .order_by("position")
    )


def lines(plan: Iterable[RunRow], cols: list[Column]) -> Iterator[Line]:
    for each in plan:
        found = {result.version_id: result for result in getattr(each.row, "run_results", [])}
        cells = [Cell(col, found.get(col.version.pk)) for col in cols]
        yield Line(each.row, each.position, cells)
