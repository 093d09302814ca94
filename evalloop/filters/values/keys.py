"""Keys of JSON objects (state, participant data), with or without a value."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalloop.filters.values.base import ValueType, escape, split_escaped


@dataclass(frozen=True)
class KeyRef:
    """A top-level key of a JSON object field (state, participant data)."""

    key: str


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str | int | float | bool


def read_key(raw: Any, keys: set[str]) -> str:
    """Answer the "key" of an object that must have exactly `keys`."""
    if not isinstance(raw, dict) or set(raw) != keys:
        raise ValueError(f"expected an object with {' and '.join(sorted(keys))}")
    key = raw["key"]
    if not isinstance(key, str) or not key or len(key) > 200:
        raise ValueError("the key must be a string of 1 to 200 characters")
    return key


class Key(ValueType):
    name = "key"
    description = 'An object naming a top-level key: {"key": "plan"}.'
    example = {"key": "plan"}
    widget = "key"

    def clean(self, raw: Any) -> KeyRef:
        return KeyRef(read_key(raw, {"key"}))

    def to_json(self, value: Any) -> dict[str, Any]:
        return {"key": value.key}

    def to_text(self, value: Any) -> str:
        return str(value.key)

    def from_text(self, text: str) -> dict[str, Any]:
        return {"key": text}

    def describe(self, value: Any) -> str:
        return ""  # the operator reads the key before its own label

    def from_form(self, data: Mapping[str, Any]) -> Any:
        return {"key": data.get("value_key", "").strip()}


@dataclass(frozen=True)
class KeyWithValue(ValueType):
    """`{"key", "value"}`; in text form `key=value` (a value that reads as JSON is JSON)."""

    scalars: bool = True  # numbers and booleans too, not only strings
    widget = "key_value"
    example = {"key": "plan", "value": "pro"}

    @property
    def name(self) -> str:  # type: ignore[override]
        return "key and value" if self.scalars else "key and text"

    @property
    def description(self) -> str:  # type: ignore[override]
        kinds = "a string, number or boolean" if self.scalars else "a non-empty string"
        return f'An object {{"key": ..., "value": ...}}; the value is {kinds}.'

    def clean(self, raw: Any) -> KeyValue:
        key = read_key(raw, {"key", "value"})
        return KeyValue(key, self._value(raw["value"]))

    def _value(self, raw: Any) -> str | int | float | bool:
        if isinstance(raw, str) and raw:
            return raw
        if not self.scalars:
            raise ValueError("the value must be a non-empty string")
        if isinstance(raw, bool | int) or (isinstance(raw, float) and math.isfinite(raw)):
            return raw
        raise ValueError("the value must be a non-empty string, a number or a boolean")

    def to_json(self, value: Any) -> dict[str, Any]:
        return {"key": value.key, "value": value.value}

    def to_text(self, value: Any) -> str:
        return f"{escape(value.key, '=')}={self._value_text(value.value)}"

    def _value_text(self, value: Any) -> str:
        if not isinstance(value, str):
            return json.dumps(value)
        return json.dumps(value) if self.scalars and reads_as_json(value) else value

    def from_text(self, text: str) -> dict[str, Any]:
        parts = split_escaped(text, "=", limit=1)
        if len(parts) != 2:
            raise ValueError(f"“{text}” is not key=value")
        return {"key": parts[0], "value": self._value_from_text(parts[1])}

    def _value_from_text(self, text: str) -> Any:
        return json.loads(text) if self.scalars and reads_as_json(text) else text

    def describe(self, value: Any) -> str:
        inner = value.value
        return f"“{inner}”" if isinstance(inner, str) else json.dumps(inner)

    def from_form(self, data: Mapping[str, Any]) -> Any:
        text = data.get("value", "").strip()
        return {"key": data.get("value_key", "").strip(), "value": self._value_from_text(text)}


def reads_as_json(text: str) -> bool:
    """Whether `text` is a JSON scalar (a number, true, false, null or a quoted string)."""
    try:
        return not isinstance(json.loads(text), list | dict)
    except ValueError:
        return False
