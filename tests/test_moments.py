"""The one range of times evalloop accepts, checked in UTC."""

from datetime import UTC, datetime, timedelta, timezone

import pydantic
import pytest
from django.db import connection

from evalloop.chat.models import Session
from evalloop.chat.tests.factories import SessionFactory
from evalloop.lib.moments import (
    EARLIEST,
    LATEST,
    RANGE,
    MomentError,
    Timestamp,
    check_moment,
    clamp_stored_times,
)

PLUS_5 = timezone(timedelta(hours=5))
MINUS_5 = timezone(timedelta(hours=-5))
MOMENT = pydantic.TypeAdapter(Timestamp)


@pytest.mark.parametrize(
    "value",
    [
        EARLIEST,
        LATEST,
        datetime(2024, 5, 1, 10, tzinfo=UTC),
        datetime(1000, 1, 1, 5, tzinfo=PLUS_5),  # 1000-01-01T00:00Z
        datetime(9000, 12, 31, 18, 59, tzinfo=MINUS_5),  # 9000-12-31T23:59Z
    ],
)
def test_a_time_in_range_comes_back_as_given(value):
    assert check_moment(value) is value


@pytest.mark.parametrize(
    "value",
    [
        datetime(9999, 12, 31, 23, tzinfo=MINUS_5),  # year 10000 in UTC: Python cannot hold it
        datetime(1, 1, 1, 1, tzinfo=PLUS_5),  # year 0 in UTC
        datetime(9000, 12, 31, 23, tzinfo=MINUS_5),  # 9001 in UTC, though 9000 as written
        datetime(1000, 1, 1, 4, tzinfo=PLUS_5),  # 999 in UTC, though 1000 as written
        EARLIEST - timedelta(microseconds=1),
        LATEST + timedelta(microseconds=1),
        datetime(9999, 12, 31, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
    ],
)
def test_a_time_out_of_range_in_utc_is_refused_saying_the_range(value):
    with pytest.raises(MomentError, match=r"out of range: accepted times are from 1000-01-01"):
        check_moment(value)


def test_a_naive_time_is_refused():
    with pytest.raises(MomentError, match="no time zone"):
        check_moment(datetime(2024, 5, 1))


def test_the_pydantic_type_reads_iso_text_with_a_zone_in_range():
    assert MOMENT.validate_python("2024-05-01T10:00:00+02:00") == datetime(
        2024, 5, 1, 8, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9999-12-31T23:00:00-05:00", f"out of range: accepted times are {RANGE}"),
        ("0001-01-01T01:00:00+05:00", f"out of range: accepted times are {RANGE}"),
        ("2024-05-01T10:00:00", "Input should have timezone info"),
    ],
)
def test_the_pydantic_type_says_what_is_wrong(text, message):
    with pytest.raises(pydantic.ValidationError) as raised:
        MOMENT.validate_json(f'"{text}"')
    assert raised.value.errors()[0]["msg"] == message


GOOD = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
STORED: dict[str, list[tuple[str | int | None, datetime | None]]] = {
    "postgresql": [
        ("10000-01-01 04:00:00+00", LATEST),
        ("9001-01-01 00:00:00+00", LATEST),
        ("0999-12-31 23:59:59+00", EARLIEST),
        ("0001-12-31 20:00:00+00 BC", EARLIEST),
        ("2024-05-01 10:00:00.123456+00", GOOD),
        (None, None),
    ],
    "sqlite": [
        ("10000-01-01 04:00:00", LATEST),
        ("9001-01-01 00:00:00", LATEST),
        ("9000-12-31 23:00:00-05:00", LATEST),
        ("0999-12-31 23:59:59", EARLIEST),
        ("0000-12-31 20:00:00", EARLIEST),
        ("2024-02-30 10:00:00", EARLIEST),
        ("not a time", EARLIEST),
        (12345, EARLIEST),
        ("2024-05-01 10:00:00.123456", GOOD),
        (None, None),
    ],
}


def test_stored_times_out_of_range_move_to_the_nearer_end_and_others_stay(db):
    cases = STORED[connection.vendor]
    sessions = [SessionFactory() for _ in cases]
    with connection.cursor() as cursor:
        for session, (raw, _) in zip(sessions, cases, strict=True):
            cursor.execute("UPDATE chat_session SET ended_at = %s WHERE id = %s", [raw, session.pk])
    changed = clamp_stored_times(connection, "chat_session", "ended_at")
    stored = dict(Session.objects.values_list("pk", "ended_at"))
    assert [stored[session.pk] for session in sessions] == [want for _, want in cases]
    assert changed == sum(want in (EARLIEST, LATEST) for _, want in cases)
