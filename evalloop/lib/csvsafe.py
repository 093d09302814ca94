"""CSV cells that a spreadsheet opens as text, never as a formula, and that read back exactly.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets: an exported chat message could run one on the machine of
whoever opens the file. So the writer puts a single quote before such a cell (OWASP's
advice; spreadsheets show the text, quote included), and before a cell that already starts
with quotes followed by such a character, so that the reader can tell the two apart: it
removes one leading quote from a cell that starts with one or more quotes and then one of
those characters. Every other cell, written or read, is left as it is, so a hand-made file
with a cell like `'tis` reads as it was typed.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

_NEEDS_QUOTE = re.compile(r"'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"'+[=+\-@\t\r]")


def escape(cell: str) -> str:
    """Answer the cell as written: quoted when a spreadsheet would take it for a formula."""
    return f"'{cell}" if _NEEDS_QUOTE.match(cell) else cell


def unescape(cell: str) -> str:
    """Answer the value `escape` was given, for every cell it wrote."""
    return cell[1:] if _ESCAPED.match(cell) else cell


class _Writable(Protocol):
    def write(self, value: str, /) -> Any: ...


class Writer:
    """csv.writer with every cell escaped; `writerow` answers what the target's write did."""

    def __init__(self, target: _Writable) -> None:
        self._writer = csv.writer(target)

    def writerow(self, cells: Iterable[object]) -> Any:
        return self._writer.writerow(escape("" if c is None else str(c)) for c in cells)


def reader(lines: Iterable[str]) -> Iterator[list[str]]:
    """csv.reader giving back the cells the Writer was given."""
    for cells in csv.reader(lines):
        yield [unescape(cell) for cell in cells]
