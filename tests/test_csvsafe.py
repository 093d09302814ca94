"""evalloop.lib.csvsafe: cells a spreadsheet shows as text, read back exactly."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evalloop.lib import csvsafe


class Lines:
    def write(self, line: str) -> str:
        return line


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+2", "'=1+2"),
        ("-5", "'-5"),
        ("+1", "'+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=1+2", "''=1+2"),
        ("'tis", "'tis"),
        ("'", "'"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_a_cell_that_could_start_a_formula_gets_one_leading_quote(value, written):
    assert csvsafe.escape(value) == written
    assert csvsafe.unescape(written) == value


@given(st.lists(st.lists(st.text(), min_size=1, max_size=4), max_size=4))
def test_what_the_writer_writes_the_reader_reads_back(records):
    writer = csvsafe.Writer(Lines())
    text = "".join(writer.writerow(record) for record in records)
    assert list(csvsafe.reader(io.StringIO(text, newline=""))) == records


def test_none_is_an_empty_cell_as_with_the_csv_module():
    assert csvsafe.Writer(Lines()).writerow([None, 1, "-1"]) == ",1,'-1\r\n"
