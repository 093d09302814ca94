"""Filters as data: a target and clauses, read strictly from JSON or a query string.

The JSON form is a list of `{"field", "op", "value"}`; the query-string form repeats `f=`
with `field:op:value` (the value in its text form), which keeps the clauses' order. Both
round-trip exactly: `parse_filter(f.to_json())` and `filter_from_querystring(
f.to_querystring())` give back `f`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote_plus, urlencode

from django.http import QueryDict

from evalloop.filters.fields import MESSAGE_FIELDS, SESSION_FIELDS, Field
from evalloop.filters.operators import Operator
from evalloop.lib.inputs import UnsafeValue, check_value, describe_path, parse_json, text_problem

PARAM = "f"  # the query-string parameter holding clauses
MAX_CLAUSES = 50
SAFE = ":,=@/"  # left readable in URLs


class Target(StrEnum):
    SESSION = "session"
    MESSAGE = "message"


FIELDS: dict[Target, dict[str, Field]] = {
    Target.SESSION: {f.name: f for f in SESSION_FIELDS},
    Target.MESSAGE: {f.name: f for f in MESSAGE_FIELDS},
}


class FilterError(ValueError):
    """A filter that cannot be read: `errors` lists each problem with its clause.

    Each error is `{"index", "field", "message"}`; `index` counts clauses from 0 (the position
    in the JSON list), while the text says "clause 1" for the first, as people count.
    """

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(error_text(error) for error in errors))

    def messages(self) -> list[str]:
        return [error_text(error) for error in self.errors]


def error_text(error: Mapping[str, Any]) -> str:
    if error["index"] is None:
        return str(error["message"])
    name = f" ({error['field']})" if error["field"] else ""
    return f"clause {error['index'] + 1}{name}: {error['message']}"


class ClauseProblem(ValueError):
    def __init__(self, field: str | None, message: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: Any


@dataclass(frozen=True)
class Filter:
    """Clauses over sessions or messages, combined with AND; always valid once built."""

    target: Target
    clauses: tuple[Clause, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", as_target(self.target))
        object.__setattr__(self, "clauses", tuple(self.clauses))
        for clause in self.clauses:
            resolve(self.target, clause)

    def __bool__(self) -> bool:
        return bool(self.clauses)

    def to_json(self) -> list[dict[str, Any]]:
        return [clause_json(self.target, clause) for clause in self.clauses]

    def encoded(self) -> list[str]:
        """Each clause as its `f=` parameter's value."""
        return [clause_text(self.target, clause) for clause in self.clauses]

    def to_querystring(self) -> str:
        return urlencode(
            [(PARAM, text) for text in self.encoded()], safe=SAFE, quote_via=quote_plus
        )

    def describe(self) -> list[str]:
        return [describe_clause(self.target, clause) for clause in self.clauses]

    def without(self, index: int) -> Filter:
        return Filter(self.target, self.clauses[:index] + self.clauses[index + 1 :])

    def adding(self, clause: Clause) -> Filter:
        return Filter(self.target, (*self.clauses, clause))


def as_target(target: Target | str) -> Target:
    try:
        return Target(target)
    except ValueError:
        choices = ", ".join(Target)
        error = {"index": None, "field": None, "message": f"target: “{target}” is not {choices}"}
        raise FilterError([error]) from None


def resolve(target: Target, clause: Clause) -> tuple[Field, Operator]:
    """Answer the clause's field and operator; a hand-built bad clause is a FilterError."""
    try:
        field = find_field(target, clause.field)
        return field, find_operator(field, clause.op)
    except ClauseProblem as problem:
        error = {"index": None, "field": problem.field, "message": str(problem)}
        raise FilterError([error]) from None


def find_field(target: Target, name: Any) -> Field:
    field = FIELDS[target].get(name) if isinstance(name, str) else None
    if field is None:
        known = ", ".join(FIELDS[target])
        shown = json.dumps(name)[:60] if name is not None else "missing"
        raise ClauseProblem(
            name if isinstance(name, str) else None, f"unknown field {shown} ({known})"
        )
    return field


def find_operator(field: Field, name: Any) -> Operator:
    operator = field.operator(name)
    if operator is None:
        known = ", ".join(op.name for op in field.operators)
        shown = json.dumps(name)[:60] if name is not None else "missing"
        raise ClauseProblem(
            field.name, f"operator {shown} does not apply to {field.name} ({known})"
        )
    return operator


def clean_value(field: Field, operator: Operator, raw: Any) -> Any:
    try:
        return operator.value.clean(raw)
    except ValueError as exc:
        raise ClauseProblem(field.name, f"{operator.name}: {exc}") from None


def clause_json(target: Target, clause: Clause) -> dict[str, Any]:
    operator = resolve(target, clause)[1]
    return {"field": clause.field, "op": clause.op, "value": operator.value.to_json(clause.value)}


def clause_text(target: Target, clause: Clause) -> str:
    operator = resolve(target, clause)[1]
    return f"{clause.field}:{clause.op}:{operator.value.to_text(clause.value)}"


def describe_clause(target: Target, clause: Clause) -> str:
    field, operator = resolve(target, clause)
    return operator.describe(field.label, clause.value)


def clause_from_json(target: Target, raw: Any) -> Clause:
    if not isinstance(raw, dict):
        raise ClauseProblem(None, 'expected an object {"field", "op", "value"}')
    field = find_field(target, raw.get("field"))
    operator = find_operator(field, raw.get("op"))
    if unknown := sorted(set(raw) - {"field", "op", "value"}):
        raise ClauseProblem(field.name, f"unknown key {', '.join(unknown)}")
    if "value" not in raw:
        raise ClauseProblem(field.name, f"{operator.name}: a value is required")
    return Clause(field.name, operator.name, clean_value(field, operator, raw["value"]))


def clause_from_text(target: Target, text: str) -> Clause:
    parts = text.split(":", 2)
    if len(parts) != 3:
        raise ClauseProblem(None, f"“{text[:60]}” is not field:op:value")
    field = find_field(target, parts[0])
    operator = find_operator(field, parts[1])
    if (problem := text_problem(parts[2])) is not None:
        raise ClauseProblem(field.name, f"{operator.name}: the value {problem}")
    try:
        raw = operator.value.from_text(parts[2])
    except ValueError as exc:
        raise ClauseProblem(field.name, f"{operator.name}: {exc}") from None
    return Clause(field.name, operator.name, clean_value(field, operator, raw))


def read_clauses(
    target: Target, items: Iterable[Any], read: Any
) -> tuple[list[Clause], list[dict[str, Any]]]:
    """Read every item with `read`, answering the clauses and the errors (index, field)."""
    clauses, errors = [], []
    for index, item in enumerate(items):
        try:
            clauses.append(read(target, item))
        except ClauseProblem as problem:
            errors.append({"index": index, "field": problem.field, "message": str(problem)})
    return clauses, errors


def parse_filter(data: Any, *, target: Target | str) -> Filter:
    """Read the JSON form (a list, or a string holding one); raise FilterError if invalid."""
    target = as_target(target)
    items = json_items(data)
    return strict(target, *read_clauses(target, items, clause_from_json))


def json_items(data: Any) -> list[Any]:
    if isinstance(data, str | bytes):
        try:
            data = parse_json(data)
        except ValueError as exc:
            raise FilterError([top_error(f"the filter is not valid JSON: {exc}")]) from None
    if not isinstance(data, list):
        raise FilterError([top_error('a filter is a list of {"field", "op", "value"} clauses')])
    if len(data) > MAX_CLAUSES:
        raise FilterError([top_error(f"a filter has at most {MAX_CLAUSES} clauses")])
    if errors := [error for index, item in enumerate(data) if (error := unsafe(index, item))]:
        raise FilterError(errors)
    return data


def unsafe(index: int, item: Any) -> dict[str, Any] | None:
    """The error of a clause holding a value no query can take (a NUL character, NaN, ...)."""
    try:
        check_value(item)
    except UnsafeValue as exc:
        field, op = (_clean_key(item, key) for key in ("field", "op"))
        where = f"{op}: {describe_path(exc.path)}" if op and exc.path else "the clause"
        return {"index": index, "field": field, "message": f"{where} {exc.reason}"}
    return None


def _clean_key(item: Any, key: str) -> str | None:
    value = item.get(key) if isinstance(item, dict) else None
    return value if isinstance(value, str) and text_problem(value) is None else None


def querystring_items(qs: str | QueryDict) -> list[str]:
    query = QueryDict(qs.removeprefix("?")) if isinstance(qs, str) else qs
    items = query.getlist(PARAM)
    if len(items) > MAX_CLAUSES:
        raise FilterError([top_error(f"a filter has at most {MAX_CLAUSES} clauses")])
    return items


def filter_from_querystring(qs: str | QueryDict, *, target: Target | str) -> Filter:
    """Read the `f=` parameters (others are ignored); raise FilterError if invalid."""
    target = as_target(target)
    items = querystring_items(qs)
    return strict(target, *read_clauses(target, items, clause_from_text))


def strict(target: Target, clauses: list[Clause], errors: list[dict[str, Any]]) -> Filter:
    if errors:
        raise FilterError(errors)
    return Filter(target, tuple(clauses))


def top_error(message: str) -> dict[str, Any]:
    return {"index": None, "field": None, "message": message}
