"""Which instants evalloop accepts: one range, checked in UTC wherever a time comes in.

Python's datetime stops at year 9999 and starts at year 1, while PostgreSQL stores far wider:
`9999-12-31T23:00:00-05:00` is year 10000 in UTC, storable there, and from then on every page
that reads it fails. Near either end even converting a time to another zone overflows. Times
from the year 1000 to the year 9000 in UTC leave room for any offset and any arithmetic the
product does (now minus a filter's duration), and hold every real conversation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, AwareDatetime, Field
from pydantic_core import PydanticCustomError

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.backends.base.schema import BaseDatabaseSchemaEditor
    from django.db.migrations.state import StateApps

EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
RANGE = "from 1000-01-01T00:00:00Z to 9000-12-31T23:59:59Z (UTC)"


class MomentError(ValueError):
    """A time evalloop does not accept; the message says why, and the range when out of it."""


def check_moment(value: datetime) -> datetime:
    """Answer `value` unchanged if it has a time zone and lies in the range; else raise."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise MomentError("no time zone: add Z or an offset like +02:00")
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None  # beyond what Python can hold in UTC, so far out of the range anyway
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise MomentError(f"out of range: accepted times are {RANGE}")
    return value


def timestamp_in_range(value: datetime) -> datetime:
    """`check_moment` for pydantic validators: the error reads as the message alone."""
    try:
        return check_moment(value)
    except MomentError as exc:
        raise PydanticCustomError("datetime_range", str(exc)) from None


Timestamp = Annotated[
    AwareDatetime,
    AfterValidator(timestamp_in_range),
    Field(description=f"ISO 8601 with a time zone, {RANGE}."),
]
"""An ISO 8601 date and time with a time zone, inside the accepted range."""


def clamp_stored_times(connection: BaseDatabaseWrapper, table: str, column: str) -> int:
    """Move the stored times of `column` that lie outside the range to its nearer end.

    Done in SQL because on PostgreSQL a year-10000 value cannot even be read into Python.
    Clamping rather than clearing keeps what a row says: an ended session stays ended, a
    session with messages keeps a last message time. Answers how many rows changed.
    """
    ops = connection.ops
    t, c = ops.quote_name(table), ops.quote_name(column)
    earliest, latest = (ops.adapt_datetimefield_value(end) for end in (EARLIEST, LATEST))
    late, bad, bounds = _sqlite_tests(c) if connection.vendor == "sqlite" else _tests(c)
    sql = f"UPDATE {t} SET {c} = CASE WHEN {late} THEN %s ELSE %s END WHERE {bad}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [bounds[1], latest, earliest, *bounds])
        return int(cursor.rowcount)


def _tests(c: str) -> tuple[str, str, list[datetime]]:
    return f"{c} > %s", f"{c} < %s OR {c} > %s", [EARLIEST, LATEST]


_FIVE_DIGITS = "[0-9]" * 5  # as a GLOB pattern


def _sqlite_tests(c: str) -> tuple[str, str, list[str]]:
    # SQLite holds text, which datetime() reads in UTC, or as NULL when it cannot (a five-digit
    # year, junk): a five-digit year goes to the latest end, junk to the earliest. datetime()
    # keeps a day past the month's end (February 30) that Python refuses, and a value that is
    # not text at all is as unreadable to Django.
    day = f"substr({c}, 1, 10)"
    late = f"datetime({c}) > %s OR (typeof({c}) = 'text' AND {c} GLOB '{_FIVE_DIGITS}*')"
    bad = (
        f"{c} IS NOT NULL AND (typeof({c}) != 'text' OR datetime({c}) IS NULL"
        f" OR date({day}, '+0 days') != {day} OR datetime({c}) < %s OR datetime({c}) > %s)"
    )
    return late, bad, [end.strftime("%Y-%m-%d %H:%M:%S") for end in (EARLIEST, LATEST)]


def clamp_app_times(app_label: str) -> Callable[[StateApps, BaseDatabaseSchemaEditor], None]:
    """A migration step clamping every stored time of the app's models (see above)."""

    def clamp(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
        for model in apps.get_app_config(app_label).get_models():
            for field in model._meta.concrete_fields:
                if field.get_internal_type() == "DateTimeField" and field.column:
                    clamp_stored_times(schema_editor.connection, model._meta.db_table, field.column)

    return clamp
