"""Checks every value from outside passes before it is stored or queried.

PostgreSQL refuses NUL characters in text and JSON, UTF-8 cannot hold a lone surrogate,
neither database holds an integer beyond 64 bits in an integer column, JSON has no NaN or
Infinity, and a value nested hundreds deep breaks whatever reads it back. Each of these is
refused here, at the edge, with the place it was found, so no input answers a 5xx or stores
a value that later breaks a page. Every way values come in (API bodies and query strings,
forms, CSV cells, log imports) goes through `check_value` or `load_json`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

MAX_DEPTH = 32
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_ID = INT64_MAX

Path = tuple[str | int, ...]


class UnsafeValue(ValueError):
    """A value evalloop will not store, and where in the input it was found."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{reason} (at {describe_path(path)})" if path else reason)


def describe_path(path: Path) -> str:
    """Write a path the way JavaScript would reach it: `metadata.items[2]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part.isidentifier():
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text


def text_problem(text: str) -> str | None:
    """Say what makes `text` unstorable, or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which text cannot hold"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate (an invalid \\ud800-\\udfff escape)"
    return None


def _leaf_problem(value: Any) -> str | None:
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            return "is an integer beyond 64 bits"
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "is not a finite number (NaN and Infinity are not JSON)"
    return None


def _children(value: Any) -> Iterator[tuple[str | int, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and (problem := text_problem(key)) is not None:
                raise UnsafeValue((key,), f"a key {problem}")
            yield key, item
    elif isinstance(value, list | tuple):
        yield from enumerate(value)


def _storable(value: Any, depth: int = 0) -> bool:
    """The fast check: whether every part of `value` can be stored (no path kept)."""
    kind = type(value)
    if kind is str:
        return "\x00" not in value and (value.isascii() or text_problem(value) is None)
    if kind is dict:
        if depth >= MAX_DEPTH:
            return False
        for key, item in value.items():
            if type(key) is str and not _storable(key):
                return False
            if not _storable(item, depth + 1):
                return False
        return True
    if kind is list or kind is tuple:
        if depth >= MAX_DEPTH:
            return False
        return all(_storable(item, depth + 1) for item in value)
    if kind is int:
        return INT64_MIN <= value <= INT64_MAX
    if kind is float:
        return math.isfinite(value)
    if value is None or kind is bool:
        return True
    return _leaf_problem(value) is None and not isinstance(value, dict | list | tuple)


def _storable_but_text(value: Any, depth: int = 0) -> bool:
    """`_storable` for a value whose strings are known good: depth and numbers only."""
    if depth >= MAX_DEPTH:
        return False
    for item in value.values() if type(value) is dict else value:
        kind = type(item)
        if kind is dict or kind is list:
            if not _storable_but_text(item, depth + 1):
                return False
        elif (kind is int and not INT64_MIN <= item <= INT64_MAX) or (
            kind is float and not math.isfinite(item)
        ):
            return False
    return True


# The escapes through which JSON text carries a NUL or a (perhaps lone) surrogate.
_TEXT_ESCAPES = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF])")
SCREENED: dict[str, bool] = {"text_screened": True}


def screen_json(raw: bytes) -> dict[str, bool] | None:
    """The validation context for JSON text whose strings are all storable, else None.

    JSON text can carry a NUL or a surrogate only as a `\\u` escape, so one scan of the bytes
    at C speed lets `Strict` models skip every string of a large body (a traffic batch).
    """
    return None if b"\\u" in raw and _TEXT_ESCAPES.search(raw) else SCREENED


def check_value(value: Any, path: Path = ()) -> Any:
    """Answer `value` when it can be stored whole; raise UnsafeValue naming where it cannot."""
    if _storable(value):
        return value
    # Iterative, so the check itself never hits Python's recursion limit.
    stack: list[tuple[Path, Any]] = [(path, value)]
    while stack:
        at, item = stack.pop()
        if isinstance(item, dict | list | tuple):
            if len(at) - len(path) >= MAX_DEPTH:
                raise UnsafeValue(path, f"is nested deeper than {MAX_DEPTH} levels")
            try:
                stack.extend(((*at, key), child) for key, child in _children(item))
            except UnsafeValue as exc:
                raise UnsafeValue(at + exc.path, exc.reason) from None
        elif (problem := _leaf_problem(item)) is not None:
            raise UnsafeValue(at, problem)
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (JSON numbers are finite)")


def parse_json(text: str | bytes) -> Any:
    """Parse JSON text without NaN or Infinity; raise ValueError saying what is wrong.

    The value still needs `check_value`; `load_json` does both.
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None


def load_json(text: str | bytes) -> Any:
    """Parse JSON text and check every part of it can be stored (raise ValueError if not)."""
    return check_value(parse_json(text))


def validate_storable(value: Any) -> None:
    """A model or form field validator refusing what `check_value` refuses."""
    try:
        check_value(value)
    except UnsafeValue as exc:
        raise ValidationError(str(exc)) from None


class Strict(BaseModel):
    """The base of every input model: no unknown fields, no value that cannot be stored."""

    # A misspelt field ("partcipant") is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def check_storable(cls, value: Any, info: ValidationInfo) -> Any:
        kind = type(value)
        if value is None or kind is bool:
            return value
        if kind is list and value and isinstance(value[0], BaseModel):
            return value  # nested models: their own validators have checked them
        if info.context is SCREENED:
            # The raw JSON was screened for text that cannot be stored: only containers
            # (their depth and numbers) and numbers are left to check.
            if kind is dict or kind is list:
                if _storable_but_text(value):
                    return value
            elif isinstance(value, str) or _leaf_problem(value) is None:
                return value
        elif kind is str and value.isascii() and "\x00" not in value:
            return value  # the common case, answered first
        try:
            return check_value(value)
        except UnsafeValue as exc:
            raise PydanticCustomError("unstorable", str(exc)) from None


def valid_id(value: Any) -> bool:
    """Whether `value` can be a row id (a positive integer within 64 bits)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


class Patch(Strict):
    """The base of partial updates: a field left out keeps its value; null is refused.

    Fields are declared optional so they may be left out, but sending null for a field that
    cannot be empty would otherwise read as "unchanged" or reach the database as NULL. A
    field that may really be cleared is listed in `nullable`.
    """

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        # Runs only for fields the input names: a field left out keeps its default.
        if value is None and info.field_name not in cls.nullable:
            raise PydanticCustomError(
                "null_refused", "null is not a value here; leave the field out to keep it"
            )
        return value
