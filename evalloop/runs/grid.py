"""A run's results laid out as a table: a line per plan row, columns per evaluator field.

The run page shows a page of lines and the CSV export streams all of them; both read the plan
rows in position order with the run's results of those rows fetched alongside, one query each
per page or chunk, so neither cost grows with the lines already read. Each line carries its
row's place in the dataset, the number people know the row by (never its id).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet

from evalloop.datasets.models import Dataset, Row
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
    position: int  # in the plan, from 0
    cells: list[Cell]
    place: int | None = None  # in the row's dataset, from 1: what people call its number


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


def lines(
    plan: Iterable[RunRow], cols: list[Column], places: Mapping[int, int] | None = None
) -> Iterator[Line]:
    """The lines of `plan`, each numbered by its row's place in `places` (row id to place)."""
    for each in plan:
        found = {result.version_id: result for result in getattr(each.row, "run_results", [])}
        cells = [Cell(col, found.get(col.version.pk)) for col in cols]
        yield Line(each.row, each.position, cells, (places or {}).get(each.row_id))


def _by_dataset(plan: Iterable[RunRow]) -> dict[int, list[int]]:
    # A plan's rows share a dataset, but the config may have moved to another one since.
    found: dict[int, list[int]] = {}
    for each in plan:
        found.setdefault(each.row.dataset_id, []).append(each.row_id)
    return found


def places(plan: Sequence[RunRow]) -> dict[int, int]:
    """The place in its dataset of each row of a page of `plan`: one query per dataset."""
    found: dict[int, int] = {}
    for dataset_id, row_ids in _by_dataset(plan).items():
        found |= Dataset(pk=dataset_id).row_positions(row_ids)
    return found


class Numbering:
    """Places of the rows of a whole plan, asked a chunk at a time in row id order.

    `places` is one query, but it counts the dataset's rows once per row asked: right for a
    page, slow for every chunk of a long plan. Here a chunk costs a COUNT of the rows skipped
    since the last chunk and a read of the ids from its first row to its last, so numbering a
    whole plan (frozen in row id order) reads each id of the dataset at most once.
    """

    def __init__(self) -> None:
        self.seen: dict[int, tuple[int, int]] = {}  # dataset id -> (last row id, its place)

    def places(self, chunk: Sequence[RunRow]) -> dict[int, int]:
        found: dict[int, int] = {}
        for dataset_id, row_ids in _by_dataset(chunk).items():
            found |= self._count(dataset_id, sorted(row_ids))
        return found

    def _count(self, dataset_id: int, wanted: list[int]) -> dict[int, int]:
        dataset = Dataset(pk=dataset_id)
        after, place = self.seen.get(dataset_id, (0, 0))
        if wanted[0] <= after:  # out of order: number these on their own
            return dataset.row_positions(wanted)
        rows = dataset.rows.order_by()
        place += rows.filter(id__gt=after, id__lt=wanted[0]).count()
        found, asked = {}, set(wanted)
        span = rows.filter(id__gte=wanted[0], id__lte=wanted[-1]).order_by("id")
        for pk in span.values_list("id", flat=True).iterator(chunk_size=2000):
            place += 1
            if pk in asked:
                found[pk] = place
        self.seen[dataset_id] = (wanted[-1], place)
        return found
