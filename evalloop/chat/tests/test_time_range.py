"""Every time that comes into the traffic store is checked against one range, in UTC.

A time such as 9999-12-31T23:00:00-05:00 is year 10000 in UTC: PostgreSQL stores it and then
no page can read it back; SQLite cannot even store it. Each edge answers a 4xx naming the
field and writes nothing.
"""

import base64
import io
import json
from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from evalloop.chat import services
from evalloop.chat.log_import import check_log, import_log
from evalloop.chat.models import Message, Session
from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory
from evalloop.lib.moments import RANGE
from evalloop.teams.permissions import Role

OUT_OF_RANGE = [
    "9999-12-31T23:00:00-05:00",  # year 10000 in UTC
    "0001-01-01T01:00:00+05:00",  # year 0 in UTC
    "9000-12-31T23:00:00-05:00",  # year 9001 in UTC, though 9000 as written
    "0999-12-31T23:59:59Z",
]
SAYS_RANGE = f"out of range: accepted times are {RANGE}"


@pytest.fixture
def chatbot(cast):
    return ChatbotFactory(team=cast.team, slug="support")


@pytest.fixture
def known(chatbot):
    """A session already stored, which a refused request must leave as it was."""
    session = SessionFactory(chatbot=chatbot, external_id="known")
    services.add_message(session=session, role="human", content="hi")
    return session


def counts():
    return Session.objects.count(), Message.objects.count()


def batch(*, session=None, message=None):
    item = {"chatbot": "support", "external_id": "s-new", **(session or {})}
    item["messages"] = [
        {"external_id": "m-1", "role": "human", "content": "hi"},
        {"external_id": "m-2", "role": "ai", "content": "hello", **(message or {})},
    ]
    return {"sessions": [{"chatbot": "support", "external_id": "known"}, item]}


def assert_names(response, *loc):
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"][-len(loc) :] == list(loc)
    return error


# POST /traffic


@pytest.mark.parametrize("when", OUT_OF_RANGE)
@pytest.mark.parametrize(
    ("place", "loc"),
    [
        ({"message": "created_at"}, ("sessions", 1, "messages", 1, "created_at")),
        ({"session": "created_at"}, ("sessions", 1, "created_at")),
        ({"session": "ended_at"}, ("sessions", 1, "ended_at")),
    ],
)
def test_a_batch_time_out_of_range_is_a_422_naming_it_and_writes_nothing(
    api, known, when, place, loc
):
    before = counts()
    [(where, name)] = place.items()
    response = api(Role.EDITOR).post("/traffic", batch(**{where: {name: when}}))
    error = assert_names(response, *loc)
    assert error["msg"] == SAYS_RANGE
    assert counts() == before


@pytest.mark.parametrize("name", ["created_at", "ended_at"])
def test_a_batch_time_without_a_zone_is_a_422(api, known, name):
    before = counts()
    response = api(Role.EDITOR).post("/traffic", batch(session={name: "2024-05-01T10:00:00"}))
    assert assert_names(response, "sessions", 1, name)["msg"] == "Input should have timezone info"
    assert counts() == before


def test_a_batch_at_the_ends_of_the_range_is_stored(api, chatbot):
    times = {"created_at": "1000-01-01T05:00:00+05:00", "ended_at": "9000-12-31T23:59:59Z"}
    response = api(Role.EDITOR).post("/traffic", batch(session=times))
    assert response.status_code == 200
    session = Session.objects.get(external_id="s-new")
    assert session.created_at == datetime(1000, 1, 1, tzinfo=UTC)
    assert session.ended_at == datetime(9000, 12, 31, 23, 59, 59, tzinfo=UTC)


# POST /chatbots/{slug}/sessions/{external_id}/end


@pytest.mark.parametrize("when", [*OUT_OF_RANGE, "2024-05-01T10:00:00"])
def test_ending_at_a_bad_time_is_a_422_and_leaves_the_session_open(api, known, when):
    changed_at = known.changed_at
    response = api(Role.EDITOR).post("/chatbots/support/sessions/known/end", {"ended_at": when})
    assert_names(response, "ended_at")
    known.refresh_from_db()
    assert (known.ended_at, known.changed_at) == (None, changed_at)


def test_a_session_ends_at_the_time_given(api, known):
    response = api(Role.EDITOR).post(
        "/chatbots/support/sessions/known/end", {"ended_at": "2024-05-01T12:00:00+02:00"}
    )
    assert response.status_code == 200
    known.refresh_from_db()
    assert known.ended_at == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_a_session_ends_now_without_a_body(api, known):
    response = api(Role.EDITOR).client.generic(
        "POST", "/api/v1/chatbots/support/sessions/known/end"
    )
    assert response.status_code == 200
    known.refresh_from_db()
    assert known.ended


# Log import


FIRST = {"session_id": "s-1", "role": "human", "content": "hi", "created_at": "2024-05-01T10:00Z"}


def csv_log(when):
    return f"{','.join(FIRST)}\n{','.join(FIRST.values())}\ns-1,ai,yo,{when}\n"


def jsonl_log(when):
    rows = [FIRST, {**FIRST, "role": "ai", "created_at": when}]
    return "".join(json.dumps(row) + "\n" for row in rows)


@pytest.mark.parametrize("when", OUT_OF_RANGE)
@pytest.mark.parametrize(("fmt", "log"), [("csv", csv_log), ("jsonl", jsonl_log)])
def test_a_log_time_out_of_range_names_its_line_and_column_and_writes_nothing(
    chatbot, known, when, fmt, log
):
    before = counts()
    report = import_log(chatbot=chatbot, file=io.BytesIO(log(when).encode()), fmt=fmt)
    [error] = report.errors
    assert (error.line, error.field, error.message) == (
        3 if fmt == "csv" else 2,
        "created_at",
        SAYS_RANGE,
    )
    assert counts() == before


def test_a_naive_log_time_is_read_in_the_time_zone_then_checked(chatbot, settings):
    log = csv_log("9000-12-31T23:00:00").encode()
    assert check_log(file=io.BytesIO(log), fmt="csv").errors == []
    settings.TIME_ZONE = "America/New_York"  # where it is 9001-01-01T04:00:00Z
    report = check_log(file=io.BytesIO(log), fmt="csv")
    assert [(e.line, e.field) for e in report.errors] == [(3, "created_at")]


def test_the_import_page_lists_the_time_out_of_range(cast, login, chatbot):
    before = counts()
    upload = SimpleUploadedFile("log.csv", csv_log(OUT_OF_RANGE[0]).encode())
    url = reverse("chat:log-import", kwargs={"slug": "support"})
    response = login(cast.editor).post(url, {"file": upload})
    content = response.content.decode()
    assert "Nothing was imported" in content
    assert "created_at" in content
    assert "out of range" in content
    assert counts() == before


# The sessions list's page links


def cursor(text):
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize("when", [*OUT_OF_RANGE, "2024-05-01T10:00:00"])
def test_a_page_link_with_a_time_out_of_range_is_a_404(cast, login, known, when):
    url = reverse("chat:session-list", kwargs={"slug": "support"})
    response = login(cast.viewer).get(url, {"cursor": cursor(f"{when}|{known.pk}")})
    assert response.status_code == 404
