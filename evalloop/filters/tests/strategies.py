"""Hypothesis strategies for valid filters, built from the fields and operators tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from evalloop.filters import values
from evalloop.filters.language import FIELDS, Target
from evalloop.lib import regex

ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]
PATTERNS = ["refund", "^hel+o$", "(?i)vip", r"\d{3}-\d{4}", "a|b", "[^,]+,[^,]+"]

text = st.text(min_size=1, max_size=20).filter(lambda s: s.strip() != "" and "\x00" not in s)
moments = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.sampled_from(ZONES)
)
scalars = st.one_of(
    text,
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)


def json_values(value_type: values.ValueType) -> st.SearchStrategy[Any]:
    """Valid JSON-form values of `value_type`."""
    match value_type:
        case values.Choice(choices=choices):
            return st.sampled_from(choices)
        case values.Slug():
            return st.from_regex(r"\A[-a-zA-Z0-9_]{1,20}\Z")
        case values.Regex():
            return st.one_of(st.sampled_from(PATTERNS), text.map(regex.escape))
        case values.Text():
            return text
        case values.ListOf(item=item):
            return st.lists(json_values(item), min_size=1, max_size=4)
        case values.Moment():
            return moments.map(datetime.isoformat)
        case values.Period():
            pairs = st.tuples(moments, moments).filter(lambda pair: pair[0] < pair[1])
            return pairs.map(lambda pair: [pair[0].isoformat(), pair[1].isoformat()])
        case values.Duration():
            amounts = st.integers(1, 5000)
            return st.builds(lambda n, unit: f"{n}{unit}", amounts, st.sampled_from("mhdw"))
        case values.Boolean():
            return st.booleans()
        case values.Count():
            return st.integers(0, 2_000_000_000)
        case values.KeyWithValue(scalars=with_scalars):
            inner = scalars if with_scalars else text
            return st.fixed_dictionaries({"key": text, "value": inner})
        case values.Key():
            return st.fixed_dictionaries({"key": text})
    raise AssertionError(f"no strategy for {value_type!r}")


@st.composite
def json_clauses(draw: st.DrawFn, target: Target) -> dict[str, Any]:
    field = draw(st.sampled_from(list(FIELDS[target].values())))
    operator = draw(st.sampled_from(field.operators))
    return {"field": field.name, "op": operator.name, "value": draw(json_values(operator.value))}


def json_filters(target: Target) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(json_clauses(target), max_size=6)
