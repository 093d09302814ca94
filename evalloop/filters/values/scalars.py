"""Yes or no, and whole numbers."""

from __future__ import annotations

from typing import Any

from evalloop.filters.values.base import ValueType, type_name


class Boolean(ValueType):
    name = "boolean"
    description = "true or false."
    example = True
    widget = "boolean"

    def clean(self, raw: Any) -> bool:
        if not isinstance(raw, bool):
            raise ValueError(f"expected true or false, got {type_name(raw)}")
        return raw

    def to_text(self, value: Any) -> str:
        return "true" if value else "false"

    def from_text(self, text: str) -> Any:
        return {"true": True, "false": False}.get(text, text)

    def describe(self, value: Any) -> str:
        return "yes" if value else "no"


class Count(ValueType):
    name = "integer"
    description = "A whole number, 0 or more."
    example = 4
    widget = "count"

    def clean(self, raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(f"expected a whole number, got {type_name(raw)}")
        if not 0 <= raw <= 2_000_000_000:
            raise ValueError("expected a whole number from 0 to 2000000000")
        return raw

    def from_text(self, text: str) -> Any:
        return int(text) if text.isdigit() and len(text) < 12 else text
