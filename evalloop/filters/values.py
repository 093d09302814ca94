"""Value types of the filter language: each validates a clause's value and writes it back.

A value type turns the JSON form of a value into its canonical Python value (`clean`), and
back (`to_json`); it has a text form for URLs (`to_text` / `from_text`), an English reading
(`describe`), and reads the builder's form inputs (`from_form`). `clean` raises ValueError
with a message fit to show a user.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.utils import timezone

MAX_TEXT = 500
MAX_ITEMS = 100
SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
DURATION = re.compile(r"^([1-9][0-9]{0,5})([mhdw])$")
UNITS = {"m": ("minute", 1), "h": ("hour", 60), "d": ("day", 1440), "w": ("week", 10080)}
LONGEST = timedelta(days=36600)
# Constructs Python's re accepts (SQLite matches with it) that PostgreSQL's regular
# expressions reject: refuse them up front so a stored filter works on both databases.
NOT_PORTABLE = {
    "named groups (?P<...>)": re.compile(r"\(\?P"),
    "atomic groups (?>...)": re.compile(r"\(\?>"),
    "scoped flags like (?i:...)": re.compile(r"\(\?[aiLmsux-]+:"),
    "possessive quantifiers like a*+": re.compile(r"(?<!\\)[*+?}]\+"),
}


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

    def to_form(self, value: Any) -> dict[str, str]:
        return {"value": self.to_text(value)}


class Text(ValueType):
    name = "string"
    description = f"A non-empty string of at most {MAX_TEXT} characters."
    example = "web"
    widget = "text"

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
        return f"“{value}”"


class Name(Text):
    name = "name"
    description = f"A tag name: a non-empty string of at most {MAX_TEXT} characters."
    example = "vip"

    def describe(self, value: Any) -> str:
        return str(value)


class Slug(Text):
    name = "slug"
    description = "A chatbot slug: letters, digits, hyphens and underscores."
    example = "support-bot"

    def clean(self, raw: Any) -> str:
        value = super().clean(raw)
        if not SLUG.match(value):
            raise ValueError(f"“{value}” is not a slug")
        return value

    def describe(self, value: Any) -> str:
        return str(value)


@dataclass(frozen=True)
class Choice(Text):
    choices: tuple[str, ...]
    name = "choice"
    description = "One of a fixed set of strings."
    example = "human"
    widget = "choice"

    def clean(self, raw: Any) -> str:
        value = super().clean(raw)
        if value not in self.choices:
            raise ValueError(f"“{value}” is not one of {', '.join(self.choices)}")
        return value

    def describe(self, value: Any) -> str:
        return str(value)


class Regex(Text):
    name = "regex"
    description = "A regular expression, matched anywhere in the text (case-sensitive)."
    example = "refund|chargeback"
    widget = "text"

    def clean(self, raw: Any) -> str:
        value = super().clean(raw)
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        for label, construct in NOT_PORTABLE.items():
            if construct.search(value):
                raise ValueError(f"{label} are not supported")
        return value

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

    def to_form(self, value: Any) -> dict[str, str]:
        return {"value": ", ".join(value)}

    def describe(self, value: Any) -> str:
        return ", ".join(self.item.describe(item) for item in value)


class Moment(ValueType):
    name = "datetime"
    description = "An ISO 8601 date and time with a time zone, e.g. 2025-05-01T09:30:00Z."
    example = "2025-05-01T09:30:00+00:00"
    widget = "datetime"

    def clean(self, raw: Any) -> datetime:
        if not isinstance(raw, str):
            raise ValueError(f"expected an ISO 8601 date and time, got {type_name(raw)}")
        try:
            moment = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise ValueError(f"“{raw}” is not an ISO 8601 date and time") from None
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"“{raw}” has no time zone (add Z or an offset like +02:00)")
        return moment

    def to_json(self, value: Any) -> str:
        return str(value.isoformat())

    def to_text(self, value: Any) -> str:
        text = self.to_json(value)
        return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text

    def describe(self, value: Any) -> str:
        return self.to_text(value).replace("T", " ")

    def from_form(self, data: Mapping[str, Any], key: str = "value") -> Any:
        return self._aware(data.get(key, "").strip())

    def _aware(self, text: str) -> str:
        """The builder's datetime-local inputs have no zone: read them in the current one."""
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return text
        if moment.tzinfo is None:
            moment = timezone.make_aware(moment)
        return moment.isoformat()

    def to_form(self, value: Any, key: str = "value") -> dict[str, str]:
        local = timezone.localtime(value)
        return {key: local.replace(tzinfo=None).isoformat(timespec="minutes")}


class Period(ValueType):
    name = "datetime range"
    description = "Two ISO 8601 datetimes [start, end]: start included, end excluded."
    example = ["2025-05-01T00:00:00+00:00", "2025-06-01T00:00:00+00:00"]
    widget = "period"
    moment = Moment()

    def clean(self, raw: Any) -> tuple[datetime, datetime]:
        if not isinstance(raw, list) or len(raw) != 2:
            raise ValueError("expected a list of two datetimes [start, end]")
        start, end = (self.moment.clean(item) for item in raw)
        if start >= end:
            raise ValueError("the start must be before the end")
        return start, end

    def to_json(self, value: Any) -> list[str]:
        return [self.moment.to_json(moment) for moment in value]

    def to_text(self, value: Any) -> str:
        return ",".join(self.moment.to_text(moment) for moment in value)

    def from_text(self, text: str) -> list[str]:
        return text.split(",")

    def describe(self, value: Any) -> str:
        return " and ".join(self.moment.describe(moment) for moment in value)

    def from_form(self, data: Mapping[str, Any]) -> list[Any]:
        return [self.moment.from_form(data), self.moment.from_form(data, "value_end")]

    def to_form(self, value: Any) -> dict[str, str]:
        return self.moment.to_form(value[0]) | self.moment.to_form(value[1], "value_end")


@dataclass(frozen=True)
class Span:
    """A length of time such as 7d, kept as written so it prints back the same."""

    amount: int
    unit: str

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    @property
    def timedelta(self) -> timedelta:
        return timedelta(minutes=self.amount * UNITS[self.unit][1])


class Duration(ValueType):
    name = "duration"
    description = "A whole number and a unit: m (minutes), h (hours), d (days), w (weeks)."
    example = "7d"
    widget = "duration"

    def clean(self, raw: Any) -> Span:
        if not isinstance(raw, str):
            raise ValueError(f"expected a duration like 7d, got {type_name(raw)}")
        match = DURATION.match(raw.strip())
        if not match:
            raise ValueError(f"“{raw}” is not a duration like 30m, 12h, 7d or 2w")
        span = Span(int(match[1]), match[2])
        if span.timedelta > LONGEST:
            raise ValueError(f"“{raw}” is longer than a hundred years")
        return span

    def to_json(self, value: Any) -> str:
        return str(value)

    def describe(self, value: Any) -> str:
        unit = UNITS[value.unit][0]
        return f"{value.amount} {unit}{'' if value.amount == 1 else 's'}"


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

    def to_form(self, value: Any) -> dict[str, str]:
        return {"value_key": value.key}


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

    def to_form(self, value: Any) -> dict[str, str]:
        return {"value_key": value.key, "value": self._value_text(value.value)}


def reads_as_json(text: str) -> bool:
    """Whether `text` is a JSON scalar (a number, true, false, null or a quoted string)."""
    try:
        return not isinstance(json.loads(text), list | dict)
    except ValueError:
        return False
