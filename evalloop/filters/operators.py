"""Operators of the filter language: a name, a value type, a compilation and an English reading.

An operator compiles through the field it is applied to: a column-like field answers
`where(scope, **lookups)`, a tag field `tagged(scope, names)`, a JSON object field
`key_where(scope, lookup, key, value)` and `has_key(scope, key)`. Each field's table lists
only operators whose needs it meets (a test compiles every pair).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import and_
from typing import TYPE_CHECKING, Any

from django.db.models import JSONField, Q, Value
from django.db.models.fields.json import KeyTransformExact, KeyTransformIContains
from django.utils import timezone

from evalloop.filters.values import (
    Boolean,
    Count,
    Duration,
    Key,
    KeyWithValue,
    ListOf,
    Moment,
    Name,
    Period,
    Regex,
    Text,
    ValueType,
)

if TYPE_CHECKING:
    from evalloop.filters.fields import Scope

Compile = Callable[[Any, Any, "Scope"], Q]


@dataclass(frozen=True)
class Operator:
    name: str
    label: str  # reads between the field and the value: "tags" "any of" "vip, paid"
    description: str
    value: ValueType
    compile: Compile
    reads_key: bool = False  # JSON key operators read "state “plan” is “pro”"

    def describe(self, field_label: str, value: Any) -> str:
        if self.reads_key:
            field_label = f"{field_label} “{value.key}”"
        return f"{field_label} {self.label} {self.value.describe(value)}".rstrip()


def eq(value: ValueType | None = None) -> Operator:
    return Operator(
        "eq",
        "is",
        "Equal to the value, exactly.",
        value or Text(),
        lambda field, value, scope: field.where(scope, exact=value),
    )


def in_(item: Text | None = None) -> Operator:
    return Operator(
        "in",
        "is one of",
        "Equal to one of the values, exactly.",
        ListOf(item or Text()),
        lambda field, value, scope: field.where(scope, **{"in": list(value)}),
    )


def contains() -> Operator:
    return Operator(
        "contains",
        "contains",
        "Contains the text, ignoring case.",
        Text(),
        lambda field, value, scope: field.where(scope, icontains=value),
    )


def regex() -> Operator:
    return Operator(
        "regex",
        "matches",
        "Matches the regular expression somewhere (case-sensitive; start it with (?i) "
        "to ignore case).",
        Regex(),
        lambda field, value, scope: field.where(scope, regex=value),
    )


def before() -> Operator:
    return Operator(
        "before",
        "before",
        "Strictly earlier than the time. Never matches an empty time.",
        Moment(),
        lambda field, value, scope: field.where(scope, lt=value),
    )


def after() -> Operator:
    return Operator(
        "after",
        "after",
        "Strictly later than the time. Never matches an empty time.",
        Moment(),
        lambda field, value, scope: field.where(scope, gt=value),
    )


def between() -> Operator:
    return Operator(
        "between",
        "between",
        "At or after the start and before the end.",
        Period(),
        lambda field, value, scope: field.where(scope, gte=value[0], lt=value[1]),
    )


def within_last() -> Operator:
    return Operator(
        "within_last",
        "within the last",
        "At or after that long before now (now being when the filter runs).",
        Duration(),
        lambda field, value, scope: field.where(scope, gte=value.back_from(timezone.now())),
    )


def gt() -> Operator:
    return Operator(
        "gt",
        "greater than",
        "Strictly greater than the number.",
        Count(),
        lambda field, value, scope: field.where(scope, gt=value),
    )


def lt() -> Operator:
    return Operator(
        "lt",
        "less than",
        "Strictly less than the number.",
        Count(),
        lambda field, value, scope: field.where(scope, lt=value),
    )


def is_set() -> Operator:
    return Operator(
        "is",
        "is",
        "true: the time is set; false: it is empty.",
        Boolean(),
        lambda field, value, scope: field.where(scope, isnull=not value),
    )


def any_of() -> Operator:
    return Operator(
        "any_of",
        "any of",
        "Carries at least one of the tags.",
        ListOf(Name()),
        lambda field, value, scope: field.tagged(scope, value),
    )


def all_of() -> Operator:
    return Operator(
        "all_of",
        "all of",
        "Carries every one of the tags.",
        ListOf(Name()),
        lambda field, value, scope: reduce(and_, (field.tagged(scope, [name]) for name in value)),
    )


def none_of() -> Operator:
    return Operator(
        "none_of",
        "none of",
        "Carries none of the tags.",
        ListOf(Name()),
        lambda field, value, scope: ~field.tagged(scope, value),
    )


def key_eq() -> Operator:
    return Operator(
        "eq",
        "is",
        "The key's value equals the value (a string matches only a string, a number only "
        "a number).",
        KeyWithValue(scalars=True),
        lambda field, value, scope: field.key_where(
            scope, KeyTransformExact, value.key, Value(value.value, output_field=JSONField())
        ),
        reads_key=True,
    )


def key_contains() -> Operator:
    return Operator(
        "contains",
        "contains",
        "The key's value, as text, contains the text, ignoring case.",
        KeyWithValue(scalars=False),
        lambda field, value, scope: field.key_where(
            scope, KeyTransformIContains, value.key, value.value
        ),
        reads_key=True,
    )


def key_exists() -> Operator:
    return Operator(
        "exists",
        "is present",
        "The object has the key (whatever its value, even null).",
        Key(),
        lambda field, value, scope: field.has_key(scope, value.key),
        reads_key=True,
    )


TEXT_OPERATORS = (eq(), in_(), contains())
TIME_OPERATORS = (before(), after(), between(), within_last())
COUNT_OPERATORS = (gt(), lt(), eq(Count()))
TAG_OPERATORS = (any_of(), all_of(), none_of())
KEY_OPERATORS = (key_eq(), key_contains(), key_exists())
CONTENT_OPERATORS = (contains(), regex())
