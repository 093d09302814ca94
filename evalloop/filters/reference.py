"""The filter reference of docs/filters.md, written from the field and operator tables.

`uv run python -m evalloop.filters.reference` rewrites the text between the page's markers;
`--check` only says whether it is current (a test runs the same comparison).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from evalloop.filters.fields import MESSAGE_FIELDS, SESSION_FIELDS, Field
from evalloop.filters.operators import Operator
from evalloop.filters.values import ValueType

PAGE = Path(__file__).resolve().parent.parent.parent / "docs" / "filters.md"
START = "<!-- reference:start -->"
END = "<!-- reference:end -->"
COMMAND = "uv run python -m evalloop.filters.reference"


def reference() -> str:
    """The Markdown between the markers: fields per target, operators, value types."""
    sections = [
        f"<!-- Generated from evalloop/filters/fields.py and operators.py by `{COMMAND}`. -->",
        fields_section("Session fields", "session", SESSION_FIELDS),
        fields_section("Message fields", "message", MESSAGE_FIELDS),
        operators_section(),
        value_types_section(),
    ]
    return "\n\n".join(sections)


def _row(*cells: str) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _code(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names)


def fields_section(title: str, target: str, fields: Iterable[Field]) -> str:
    own = [field for field in fields if not field.via]
    related = [field for field in fields if field.via]
    lines = [f"## {title}", "", f"Target `{target}`.", ""]
    lines += [_row("field", "operators", "what it looks at"), _row("---", "---", "---")]
    lines += [_row(f"`{f.name}`", _code(op.name for op in f.operators), f.description) for f in own]
    if related:
        names = _code(field.name for field in related)
        about = f"Every session field, about the message's session: {names}."
        lines.append(_row("`session.<field>`", "as on the session", about))
    return "\n".join(lines)


def _all_fields() -> list[Field]:
    return [*SESSION_FIELDS, *(field for field in MESSAGE_FIELDS if not field.via)]


def operator_groups() -> dict[tuple[str, str], list[tuple[Field, Operator]]]:
    """Operators with the same name and meaning, each with the fields that take it."""
    groups: dict[tuple[str, str], list[tuple[Field, Operator]]] = {}
    for field in _all_fields():
        for operator in field.operators:
            groups.setdefault((operator.name, operator.description), []).append((field, operator))
    return groups


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def reading(field: Field, operator: Operator) -> str:
    """How a clause of this field and operator reads, on the value type's example."""
    return operator.describe(field.label, operator.value.clean(operator.value.example))


def operators_section() -> str:
    lines = ["## Operators", ""]
    lines += [_row("operator", "value", "meaning", "fields", "reads as")]
    lines.append(_row("---", "---", "---", "---", "---"))
    for (name, description), pairs in operator_groups().items():
        value_types = _unique(operator.value.name for _, operator in pairs)
        fields = _code(_unique(field.name for field, _ in pairs))
        example = reading(*pairs[0])
        lines.append(_row(f"`{name}`", ", ".join(value_types), description, fields, example))
    return "\n".join(lines)


def value_types() -> list[ValueType]:
    seen: dict[str, ValueType] = {}
    for field in _all_fields():
        for operator in field.operators:
            seen.setdefault(operator.value.name, operator.value)
    return list(seen.values())


def value_types_section() -> str:
    lines = ["## Value types", ""]
    lines += [_row("value type", "JSON form", "text form (in `f=`)", "what it accepts")]
    lines.append(_row("---", "---", "---", "---"))
    for value_type in value_types():
        example = value_type.clean(value_type.example)
        as_json = json.dumps(value_type.to_json(example), ensure_ascii=False)
        as_text = value_type.to_text(example)
        cells = (value_type.name, f"`{as_json}`", f"`{as_text}`", value_type.description)
        lines.append(_row(*cells))
    return "\n".join(lines)


def documented(page: str) -> str:
    """The text between the markers of `page`."""
    start, end = page.index(START) + len(START), page.index(END)
    return page[start:end].strip()


def rewritten(page: str) -> str:
    start, end = page.index(START) + len(START), page.index(END)
    return f"{page[:start]}\n{reference()}\n{page[end:]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether it is current")
    args = parser.parse_args(argv)
    page = PAGE.read_text()
    if documented(page) == reference():
        print(f"{PAGE.name}: the filter reference is current.")
        return 0
    if args.check:
        print(f"{PAGE.name}: the filter reference is stale; run `{COMMAND}`.")
        return 1
    PAGE.write_text(rewritten(page))
    print(f"{PAGE.name}: rewrote the filter reference.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
