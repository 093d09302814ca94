"""The base of value types, and the escaping their text forms share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


def escape(text: str, special: str) -> str:
    """Backslash-escape the backslash and each character of `special`."""
    for char in "\\" + special:
        text = text.replace(char, "\\" + char)
    return text


def split_escaped(text: str, separator: str, *, limit: int | None = None) -> list[str]:
    """Split on unescaped `separator` (at most `limit` times) and drop the escapes."""
    parts: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            current.append(text[index + 1])
            index += 1
        elif char == separator:
            parts.append("".join(current))
            current = []
            if len(parts) == limit:
                return [*parts, text[index + 1 :]]
        else:
            current.append(char)
        index += 1
    return [*parts, "".join(current)]


def type_name(raw: Any) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    names |= {list: "a list", dict: "an object", type(None): "null"}
    return names.get(type(raw), type(raw).__name__)


class ValueType:
    """A kind of clause value. Subclasses fill in the class attributes and `clean`."""

    name: ClassVar[str]
    description: ClassVar[str]
    example: ClassVar[Any]
    widget: ClassVar[str]

    def clean(self, raw: Any) -> Any:
        raise NotImplementedError

    def to_json(self, value: Any) -> Any:
        return value

    def to_text(self, value: Any) -> str:
        return str(self.to_json(value))

    def from_text(self, text: str) -> Any:
        return text

    def describe(self, value: Any) -> str:
        return str(value)

    def from_form(self, data: Mapping[str, Any]) -> Any:
        return self.from_text(data.get("value", "").strip())
