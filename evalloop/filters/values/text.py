"""Strings: free text, tag names, slugs, choices, regular expressions, and lists of them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evalloop.filters.values.base import ValueType, escape, split_escaped, type_name
from evalloop.lib import regex

MAX_TEXT = 500
MAX_ITEMS = 100
SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")


class Text(ValueType):
    name = "string"
    description = f"A non-empty string of at most {MAX_TEXT} characters."
    example = "web"
    widget = "text"
    # Free text reads in quotes ("contains “refund”"); names, slugs and choices read bare.
    quoted = True

    def clean(self, raw: Any) -> str:
        if not isinstance(raw, str):
            raise ValueError(f"expected a string, got {type_name(raw)}")
        if not raw.strip():
            raise ValueError("a value is required")
        if len(raw) > MAX_TEXT:
            raise ValueError(f"at most {MAX_TEXT} characters")
        if "\x00" in raw:
            raise ValueError("NUL characters are not allowed")
        return raw

    def describe(self, value: Any) -> str:
        return f"“{value}”" if self.quoted else str(value)


class Name(Text):
    name = "name"
    description = f"A tag name: a non-empty string of at most {MAX_TEXT} characters."
    example = "vip"
    quoted = False


class Slug(Text):
    name = "slug"
    description = "A chatbot slug: letters, digits, hyphens and underscores."
    example = "support-bot"
    quoted = False

    def clean(self, raw: Any) -> str:
        value = super().clean(raw)
        if not SLUG.match(value):
            raise ValueError(f"“{value}” is not a slug")
        return value


@dataclass(frozen=True)
class Choice(Text):
    choices: tuple[str, ...]
    name = "choice"
    description = "One of a fixed set of strings."
    example = "human"
    widget = "choice"
    quoted = False

    def clean(self, raw: Any) -> str:
        value = super().clean(raw)
        if value not in self.choices:
            raise ValueError(f"“{value}” is not one of {', '.join(self.choices)}")
        return value


class Regex(Text):
    name = "regex"
    description = (
        "A regular expression, matched anywhere in the text (case-sensitive): RE2 syntax "
        "without backreferences or lookaround, as docs/filters.md lists."
    )
    example = "refund|chargeback"
    widget = "text"

    def clean(self, raw: Any) -> str:
        value = super().clean(raw)
        try:
            return regex.check(value)
        except regex.RegexError as exc:
            raise ValueError(str(exc)) from None

    def describe(self, value: Any) -> str:
        return f"/{value}/"


@dataclass(frozen=True)
class ListOf(ValueType):
    """A non-empty list of items of one type; in text form, comma-separated."""

    item: Text

    @property
    def widget(self) -> str:  # type: ignore[override]
        return "choices" if self.item.widget == "choice" else "list"

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{self.item.name} list"

    @property
    def description(self) -> str:  # type: ignore[override]
        return f"A non-empty list (at most {MAX_ITEMS}) of: {self.item.description}"

    @property
    def example(self) -> list[Any]:
        return [self.item.example]

    def clean(self, raw: Any) -> tuple[str, ...]:
        if not isinstance(raw, list):
            raise ValueError(f"expected a list, got {type_name(raw)}")
        if not raw:
            raise ValueError("the list is empty, so it would match nothing")
        if len(raw) > MAX_ITEMS:
            raise ValueError(f"at most {MAX_ITEMS} items")
        return tuple(self._clean_item(i, item) for i, item in enumerate(raw))

    def _clean_item(self, index: int, raw: Any) -> str:
        try:
            return self.item.clean(raw)
        except ValueError as exc:
            raise ValueError(f"item {index + 1}: {exc}") from None

    def to_json(self, value: Any) -> list[Any]:
        return list(value)

    def to_text(self, value: Any) -> str:
        return ",".join(escape(item, ",") for item in value)

    def from_text(self, text: str) -> list[str]:
        return split_escaped(text, ",") if text else []

    def from_form(self, data: Mapping[str, Any]) -> list[str]:
        if self.item.widget == "choice" and hasattr(data, "getlist"):
            return [value for value in data.getlist("value") if value]
        return [part.strip() for part in data.get("value", "").split(",") if part.strip()]

    def describe(self, value: Any) -> str:
        return ", ".join(self.item.describe(item) for item in value)
