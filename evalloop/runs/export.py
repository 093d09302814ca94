"""A run's results as CSV, streamed: a line per plan row, columns per evaluator field.

Columns: `row_id` (for machines), `input`, `output`, `expected_output`, `session` (the source
session's external id, if any), `row` (the row's place in its dataset: the number its pages
show), then for each evaluator version of the plan one column per output field,
`<evaluator>.<field>`, and `<evaluator>.error`. A pair without a result yet leaves its
cells empty. Cells a spreadsheet would run as formulas start with a quote (`lib/csvsafe.py`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from itertools import islice
from typing import Any

from django.http import StreamingHttpResponse
from django.utils.text import slugify

from evalloop.lib import csvsafe
from evalloop.runs import grid
from evalloop.runs.models import Run

CHUNK = 500
# `row` comes after the columns that came first, so readers that count columns still find them.
ROW_COLUMNS = ("row_id", "input", "output", "expected_output", "session", "row")


class _Echo:
    def write(self, value: str) -> str:
        return value


def prefixes(cols: list[grid.Column]) -> list[str]:
    """A column prefix per evaluator: its name, with the version's digest when names repeat."""
    seen = Counter(col.name for col in cols)
    return [col.name if seen[col.name] == 1 else f"{col.name}@{col.version.digest}" for col in cols]


def header(cols: list[grid.Column]) -> list[str]:
    names = list(ROW_COLUMNS)
    for prefix, col in zip(prefixes(cols), cols, strict=True):
        names += [f"{prefix}.{field.name}" for field in col.fields]
        names.append(f"{prefix}.error")
    return names


def value_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def cells(line: grid.Line) -> list[str]:
    session = line.row.source_session
    row = line.row
    out = [str(row.pk), row.input, row.output, row.expected_output]
    out.append(session.external_id if session is not None else "")
    out.append("" if line.place is None else str(line.place))
    for cell in line.cells:
        out += [value_cell(value) for value in cell.values]
        out.append(cell.error)
    return out


def stream(run: Run) -> Iterator[str]:
    """The CSV lines of `run`, reading plan rows and their results a chunk at a time."""
    cols = grid.columns(run)
    writer = csvsafe.Writer(_Echo())
    yield writer.writerow(header(cols))
    plan = grid.plan_rows(run).iterator(chunk_size=CHUNK)
    numbering = grid.Numbering()
    while chunk := list(islice(plan, CHUNK)):
        for line in grid.lines(chunk, cols, numbering.places(chunk)):
            yield writer.writerow(cells(line))


def download_response(run: Run) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream(run), content_type="text/csv; charset=utf-8")
    name = slugify(run.config.name) or "config"
    response["Content-Disposition"] = f'attachment; filename="{name}-run-{run.pk}.csv"'
    return response
