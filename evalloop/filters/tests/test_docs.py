"""docs/filters.md stays true to the fields and operators tables."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from evalloop.filters.language import FIELDS, Target

DOC = (Path(settings.BASE_DIR) / "docs" / "filters.md").read_text()
SECTIONS = {Target.SESSION: "## Session fields", Target.MESSAGE: "## Message fields"}


def section(heading):
    start = DOC.index(heading)
    return DOC[start : DOC.index("\n## ", start + 1)]


def documented_fields(target):
    """Field name -> operator names, read from the section's table rows."""
    rows = re.findall(r"^\| `([\w.]+)` \| ([^|]*) \|", section(SECTIONS[target]), re.MULTILINE)
    return {name: re.findall(r"`(\w+)`", ops) for name, ops in rows}


@pytest.mark.parametrize("target", list(Target))
def test_every_field_is_documented_with_its_operators(target):
    documented = documented_fields(target)
    for field in FIELDS[target].values():
        if field.via:
            assert f"`{field.name}`" in section(SECTIONS[target])
        else:
            assert documented.get(field.name) == [op.name for op in field.operators], field.name


@pytest.mark.parametrize("target", list(Target))
def test_no_documented_field_is_missing_from_the_tables(target):
    assert set(documented_fields(target)) - set(FIELDS[target]) <= {"session.<field>"}


def test_every_operator_and_value_type_is_documented():
    operators = section("## Operators")
    value_types = section("## Value types")
    for field in (f for fields in FIELDS.values() for f in fields.values()):
        for operator in field.operators:
            assert f"| `{operator.name}`" in operators, operator.name
            assert operator.value.name in value_types, operator.value.name
