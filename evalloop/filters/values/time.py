"""Times: a moment, a period between two moments, a duration back from now."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from evalloop.filters.values.base import ValueType, type_name
from evalloop.lib.moments import EARLIEST, RANGE, MomentError, check_moment

DURATION = re.compile(r"^([1-9][0-9]{0,5})([mhdw])$")
UNITS = {"m": ("minute", 1), "h": ("hour", 60), "d": ("day", 1440), "w": ("week", 10080)}
LONGEST = timedelta(days=36600)


class Moment(ValueType):
    name = "datetime"
    description = f"An ISO 8601 date and time with a time zone, e.g. 2025-05-01T09:30:00Z, {RANGE}."
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
        try:
            return check_moment(moment)
        except MomentError as exc:
            raise ValueError(f"“{raw}” is {exc}") from None

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

    def back_from(self, moment: datetime) -> datetime:
        """The moment this long before `moment`, never before the accepted range of times."""
        return max(moment - self.timedelta, EARLIEST)


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
