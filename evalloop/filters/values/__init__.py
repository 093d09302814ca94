"""Value types of the filter language: each validates a clause's value and writes it back.

A value type turns the JSON form of a value into its canonical Python value (`clean`), and
back (`to_json`); it has a text form for URLs (`to_text` / `from_text`), an English reading
(`describe`), and reads the builder's form inputs (`from_form`). `clean` raises ValueError
with a message fit to show a user.
"""

from evalloop.filters.values.base import ValueType
from evalloop.filters.values.keys import Key, KeyRef, KeyValue, KeyWithValue
from evalloop.filters.values.scalars import Boolean, Count
from evalloop.filters.values.text import Choice, ListOf, Name, Regex, Slug, Text
from evalloop.filters.values.time import Duration, Moment, Period, Span

__all__ = [
    "Boolean",
    "Choice",
    "Count",
    "Duration",
    "Key",
    "KeyRef",
    "KeyValue",
    "KeyWithValue",
    "ListOf",
    "Moment",
    "Name",
    "Period",
    "Regex",
    "Slug",
    "Span",
    "Text",
    "ValueType",
]
