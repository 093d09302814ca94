"""Rows as CSV, both ways: a streamed download and a validated upload, written in batches.

Columns: `id`, `input`, `output`, `expected_output`, `history` (a JSON list of turns), and
one column per key of the JSON objects: `context.<key>`, `participant_data.<key>`,
`state.<key>`. A key's cell holds JSON (`3`, `true`, `["a"]`, `{"k": 1}`, `"text"`) or,
when it is not JSON, plain text; an empty cell means the key is absent. A row with an `id`
updates that row of the dataset, without one it is a new row. Cells a spreadsheet would run
as formulas are written with a leading quote, which the upload removes (`lib/csvsafe.py`).
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify

from evalloop.datasets.models import ROW_CONTENT_FIELDS, Dataset, Origin, Row, validate_history
from evalloop.datasets.snapshots import insert_rows
from evalloop.lib import csvsafe
from evalloop.lib.inputs import MAX_DEPTH, UnsafeValue, check_value, text_problem, valid_id

TEXT_COLUMNS = ("input", "output", "expected_output")
MAPPINGS = ("context", "participant_data", "state")
MAX_PROBLEMS = 50
# As for log imports: reading and writing a larger file would hold a web worker for minutes.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
BATCH = 1000
# Rows an upload writes per transaction: a few tens of milliseconds on SQLite, where a
# transaction holds the one write lock and traffic waits for it.
WRITE_BATCH = 250
_ABSENT = object()


# Cells


def _no_constants(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are text here: JSON columns cannot hold them


def read_cell(cell: str) -> Any:
    """A key's value from its cell: JSON when it parses, otherwise the text itself."""
    if cell == "":
        return _ABSENT
    try:
        return json.loads(cell, parse_constant=_no_constants)
    except ValueError:
        return cell


def write_cell(value: Any) -> str:
    """The cell for a key's value; `read_cell` gives the value back exactly."""
    if isinstance(value, str) and read_cell(value) == value:
        return value
    return json.dumps(value, ensure_ascii=False)


# Download


class _Echo:
    def write(self, value: str) -> str:
        return value


def mapping_keys(rows: QuerySet[Row]) -> dict[str, list[str]]:
    """The keys each JSON-object column uses across `rows` (one streamed pass)."""
    keys: dict[str, set[str]] = {name: set() for name in MAPPINGS}
    for values in rows.values_list(*MAPPINGS).iterator(chunk_size=BATCH):
        for name, mapping in zip(MAPPINGS, values, strict=True):
            keys[name].update(mapping if isinstance(mapping, dict) else ())
    return {name: sorted(found) for name, found in keys.items()}


def header(keys: dict[str, list[str]]) -> list[str]:
    nested = [f"{name}.{key}" for name in MAPPINGS for key in keys[name]]
    return ["id", *TEXT_COLUMNS, "history", *nested]


def _cells(values: tuple[Any, ...], keys: dict[str, list[str]]) -> list[str]:
    row_id, *texts, history, context, participant_data, state = values
    mappings = dict(zip(MAPPINGS, (context, participant_data, state), strict=True))
    nested = [
        write_cell(mappings[name][key]) if key in mappings[name] else ""
        for name in MAPPINGS
        for key in keys[name]
    ]
    return [str(row_id), *texts, json.dumps(history, ensure_ascii=False), *nested]


def download_response(dataset: Dataset) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream(dataset), content_type="text/csv; charset=utf-8")
    filename = slugify(dataset.name) or f"dataset-{dataset.pk}"
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def stream(dataset: Dataset) -> Iterator[str]:
    """The dataset's rows as CSV lines, oldest first, read and written a batch at a time."""
    rows = dataset.rows.order_by("id")
    keys = mapping_keys(rows)
    writer = csvsafe.Writer(_Echo())
    yield writer.writerow(header(keys))
    columns = ("id", *TEXT_COLUMNS, "history", *MAPPINGS)
    for values in rows.values_list(*columns).iterator(chunk_size=BATCH):
        yield writer.writerow(_cells(values, keys))


# Upload


@dataclass(frozen=True)
class Problem:
    row: int | None  # the record's number, the header being row 1
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [
            f"row {self.row}" if self.row else "",
            f"column {self.column}" if self.column else "",
        ]
        place = ", ".join(part for part in where if part)
        return f"{place}: {self.message}" if place else self.message


class CsvInvalid(ValidationError):
    """The file has problems; nothing of it was written."""

    def __init__(self, problems: list[Problem], *, more: int = 0) -> None:
        self.problems = problems
        self.more = more
        super().__init__([str(problem) for problem in problems])


@dataclass(frozen=True)
class Columns:
    names: list[str]

    @property
    def fields(self) -> list[str]:
        """The row fields this file sets; an update leaves the others alone."""
        plain = [name for name in (*TEXT_COLUMNS, "history") if name in self.names]
        nested = [m for m in MAPPINGS if any(n.startswith(f"{m}.") for n in self.names)]
        return plain + nested


@dataclass
class Plan:
    columns: Columns
    problems: list[Problem] = field(default_factory=list)
    more: int = 0
    update_rows: dict[int, int] = field(default_factory=dict)  # row id -> record number
    # Rows with an id whose cells leave nothing in the columns the file sets: -> record number
    emptied: dict[int, int] = field(default_factory=dict)

    def problem(self, row: int | None, column: str | None, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(row, column, message))
        else:
            self.more += 1


@dataclass(frozen=True)
class Written:
    added: int
    updated: int
    unchanged: int = 0  # rows with an id whose cells say what the row already holds


def _records(file: IO[bytes]) -> Iterator[tuple[int, list[str]]]:
    file.seek(0)
    reader = csvsafe.reader(codecs.iterdecode(file, "utf-8-sig"))
    for number, cells in enumerate(reader, start=1):
        if any(cells):  # a blank line, or one of empty cells as spreadsheets leave at the end
            yield number, cells


def _column_problem(name: str, seen: set[str]) -> str | None:
    if name in seen:
        return "appears twice"
    prefix, dot, key = name.partition(".")
    if name in ("id", *TEXT_COLUMNS, "history") or (dot and prefix in MAPPINGS and key):
        return None
    known = ", ".join(("id", *TEXT_COLUMNS, "history", *(f"{m}.<key>" for m in MAPPINGS)))
    return f"unknown column; the columns are {known}"


def _read_columns(records: Iterator[tuple[int, list[str]]]) -> Plan:
    first = next(records, None)
    if first is None:
        raise CsvInvalid([Problem(None, None, "The file is empty.")])
    names = [name.strip() for name in first[1]]
    plan = Plan(columns=Columns(names))
    seen: set[str] = set()
    for name in names:
        problem = _column_problem(name, seen)
        if problem:
            plan.problem(1, name or "(blank)", problem)
        seen.add(name)
    if not plan.columns.fields and not plan.problems:
        plan.problem(1, None, "No row columns: expected input, output, history, context.* …")
    return plan


def _parse_record(plan: Plan, number: int, cells: list[str]) -> tuple[int | None, dict[str, Any]]:
    names = plan.columns.names
    if len(cells) > len(names):
        plan.problem(number, None, f"{len(cells)} cells but {len(names)} columns")
    cells = cells + [""] * (len(names) - len(cells))
    values: dict[str, Any] = {name: {} for name in MAPPINGS if name in plan.columns.fields}
    row_id = None
    for name, cell in zip(names, cells, strict=False):
        if name == "id":
            row_id = _parse_id(plan, number, cell)
        else:
            _parse_value(plan, number, name, cell, values)
    return row_id, values


def _parse_id(plan: Plan, number: int, cell: str) -> int | None:
    cell = cell.strip()
    if not cell:
        return None
    if not cell.isdigit() or not valid_id(int(cell)):
        plan.problem(number, "id", f"{cell[:40]!r} is not a row id")
        return None
    return int(cell)


def _parse_value(plan: Plan, number: int, name: str, cell: str, values: dict[str, Any]) -> None:
    if name in TEXT_COLUMNS:
        if (problem := text_problem(cell)) is not None:
            plan.problem(number, name, problem)
        values[name] = cell
    elif name == "history":
        values[name] = _parse_history(plan, number, cell)
    else:
        mapping, _, key = name.partition(".")
        try:
            value = check_value(read_cell(cell))
        except (UnsafeValue, RecursionError) as exc:
            plan.problem(number, name, _unsafe_reason(exc))
            return
        if value is not _ABSENT:
            values[mapping][key] = value


def _unsafe_reason(exc: UnsafeValue | RecursionError) -> str:
    return str(exc) if isinstance(exc, UnsafeValue) else f"nested deeper than {MAX_DEPTH} levels"


def _parse_history(plan: Plan, number: int, cell: str) -> list[Any]:
    if not cell.strip():
        return []
    try:
        history = check_value(json.loads(cell, parse_constant=_no_constants))
        validate_history(history)
    except (UnsafeValue, RecursionError) as exc:
        plan.problem(number, "history", _unsafe_reason(exc))
        return []
    except ValueError:
        plan.problem(number, "history", "not JSON: expected a list of turns")
        return []
    except ValidationError as exc:
        plan.problem(number, "history", " ".join(exc.messages))
        return []
    return list(history)


def _check_ids(plan: Plan, number: int, row_id: int | None) -> None:
    if row_id is None:
        return
    if row_id in plan.update_rows:
        plan.problem(
            number, "id", f"row {row_id} is also updated by row {plan.update_rows[row_id]}"
        )
    plan.update_rows.setdefault(row_id, number)


def _check_record(plan: Plan, number: int, cells: list[str]) -> None:
    found = len(plan.problems) + plan.more
    row_id, values = _parse_record(plan, number, cells)
    _check_ids(plan, number, row_id)
    clean = len(plan.problems) + plan.more == found  # one problem a row is enough
    if not clean or Row(**values).has_content():
        return
    if row_id is None:
        plan.problem(number, None, "nothing in it: a new row needs some content")
    else:  # whether the row keeps something depends on the columns the file leaves alone
        plan.emptied[row_id] = number


def _check_rows_exist(plan: Plan, dataset: Dataset) -> None:
    wanted = list(plan.update_rows)
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start : start + BATCH]
        found = set(dataset.rows.filter(pk__in=batch).values_list("pk", flat=True))
        for row_id in batch:
            if row_id not in found:
                plan.problem(plan.update_rows[row_id], "id", f"no row {row_id} in this dataset")


def _check_rows_keep_content(plan: Plan, dataset: Dataset) -> None:
    """An update clearing every column the file has must leave the row content elsewhere."""
    others = [name for name in ROW_CONTENT_FIELDS if name not in plan.columns.fields]
    wanted = list(plan.emptied)
    for start in range(0, len(wanted), BATCH):
        rows = dataset.rows.filter(pk__in=wanted[start : start + BATCH]).only(*others)
        for row in rows:
            if not Row(**{name: getattr(row, name) for name in others}).has_content():
                message = "nothing left in it: a row needs some content"
                plan.problem(plan.emptied[row.pk], None, message)


def _size(file: IO[bytes]) -> int:
    start = file.tell()
    size = file.seek(0, 2)
    file.seek(start)
    return size


def validate(file: IO[bytes], *, dataset: Dataset) -> Plan:
    """Read the whole file once; raise CsvInvalid listing every problem (up to a limit)."""
    if _size(file) > MAX_UPLOAD_BYTES:
        message = f"The file is larger than {MAX_UPLOAD_BYTES // 2**20} MB: split it."
        raise CsvInvalid([Problem(None, None, message)])
    try:
        records = _records(file)
        plan = _read_columns(records)
        if not plan.problems:
            for number, cells in records:
                _check_record(plan, number, cells)
    except UnicodeDecodeError:
        raise CsvInvalid([Problem(None, None, "The file is not UTF-8 text.")]) from None
    except csv.Error as exc:
        raise CsvInvalid([Problem(None, None, f"Not a readable CSV file: {exc}")]) from None
    _check_rows_exist(plan, dataset)
    _check_rows_keep_content(plan, dataset)
    if plan.problems:
        raise CsvInvalid(plan.problems, more=plan.more)
    return plan


def batches(file: IO[bytes], plan: Plan) -> Iterator[list[tuple[int | None, dict[str, Any]]]]:
    """The records of a validated file, parsed, a batch at a time."""
    records = _records(file)
    next(records)
    batch: list[tuple[int | None, dict[str, Any]]] = []
    for number, cells in records:
        batch.append(_parse_record(plan, number, cells))
        if len(batch) == WRITE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class Undo:
    """What undoes the batches written so far: the rows added, the old content of those updated."""

    added: list[int] = field(default_factory=list)
    previous: list[Row] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: Undo) -> Undo:
        self.added += other.added
        self.previous += other.previous
        self.fields = other.fields
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self

    def apply(self) -> None:
        """Delete the rows added and put back the content of the rows updated."""
        for start in range(0, len(self.added), BATCH):
            Row.objects.filter(pk__in=self.added[start : start + BATCH]).delete()
        Row.objects.bulk_update(self.previous, self.fields, batch_size=BATCH)


def write_batch(
    batch: list[tuple[int | None, dict[str, Any]]], *, dataset: Dataset, plan: Plan
) -> Undo:
    """Write one batch of a validated file: new rows in bulk, rows with an id updated in bulk.

    A row whose cells say what it already holds is left alone (not marked edited), so a
    downloaded file uploads back without touching anything.
    """
    new = [
        Row(dataset=dataset, origin=Origin.CSV, **values) for rid, values in batch if rid is None
    ]
    fields = [*plan.columns.fields, "edited_at"]
    wanted = {row_id: values for row_id, values in batch if row_id is not None}
    stored = dataset.rows.filter(pk__in=list(wanted)).only(*fields)
    previous = [row for row in stored if _differs(row, wanted[row.pk])]
    now = timezone.now()
    changed = [Row(pk=row.pk, dataset=dataset, edited_at=now, **wanted[row.pk]) for row in previous]
    insert_rows(new)
    if changed:
        Row.objects.bulk_update(changed, fields)
    return Undo(
        added=[row.pk for row in new],
        previous=previous,
        fields=fields,
        updated=len(changed),
        unchanged=len(wanted) - len(changed),
    )


def _differs(row: Row, values: dict[str, Any]) -> bool:
    """Whether the cells' values change the row: compared as JSON, so 1, 1.0 and true differ."""
    return any(
        _canonical(getattr(row, name)) != _canonical(value) for name, value in values.items()
    )


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)
