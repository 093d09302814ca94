"""Times in filters keep to the one accepted range, checked in UTC, in every form they come."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory
from evalloop.filters import FilterError, parse_filter, read_filter_request
from evalloop.filters.values import Duration, Span
from evalloop.lib.moments import EARLIEST, RANGE, check_moment
from evalloop.teams.permissions import Role

OUT_OF_RANGE = [
    "9999-12-31T23:00:00-05:00",  # year 10000 in UTC
    "0001-01-01T01:00:00+05:00",  # year 0 in UTC
    "9000-12-31T23:00:00-05:00",  # year 9001 in UTC, though 9000 as written
    "1000-01-01T04:00:00+05:00",  # year 999 in UTC, though 1000 as written
]
SAYS_RANGE = f"is out of range: accepted times are {RANGE}"


def clauses(when):
    return [
        [{"field": "created_at", "op": "after", "value": when}],
        [{"field": "ended_at", "op": "between", "value": ["2024-05-01T00:00:00Z", when]}],
    ]


@pytest.mark.parametrize("when", OUT_OF_RANGE)
def test_a_time_out_of_range_in_json_is_refused_saying_the_range(when):
    for data in clauses(when):
        with pytest.raises(FilterError) as raised:
            parse_filter(data, target="session")
        assert f"“{when}” {SAYS_RANGE}" in str(raised.value)


@pytest.mark.parametrize("when", OUT_OF_RANGE)
def test_a_time_out_of_range_in_the_query_string_is_an_error(when):
    request = RequestFactory().get("/", {"f": f"created_at:before:{when}"})
    state = read_filter_request(request, target="session")
    [error] = state.errors
    assert error.startswith("clause 1 (created_at): before: ")
    assert SAYS_RANGE in error
    assert state.filter.clauses == ()


def test_the_ends_of_the_range_are_accepted_as_written():
    start, end = "1000-01-01T05:00:00+05:00", "9000-12-31T18:59:59-05:00"
    flt = parse_filter(
        [{"field": "created_at", "op": "between", "value": [start, end]}], target="session"
    )
    assert flt.to_json()[0]["value"] == [start, end]


def test_a_builder_time_out_of_range_is_a_form_error(settings):
    settings.TIME_ZONE = "America/New_York"  # the date picker's 9999-12-31 23:00 is 10000 in UTC
    query = {"field": "created_at", "op": "after", "value": "9999-12-31T23:00", "add": "1"}
    state = read_filter_request(RequestFactory().get("/", query), target="session")
    assert state.redirect_to is None
    [error] = state.errors
    assert error.startswith("new filter (created_at): after: ")
    assert SAYS_RANGE in error


@pytest.fixture
def chatbot(cast):
    chatbot = ChatbotFactory(team=cast.team, slug="support")
    SessionFactory(chatbot=chatbot)
    return chatbot


@pytest.mark.parametrize("when", OUT_OF_RANGE)
def test_the_api_answers_422_naming_the_clause(api, chatbot, when):
    for data in clauses(when):
        response = api(Role.VIEWER).post("/filters/validate", {"target": "session", "filter": data})
        assert response.status_code == 422
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", "filter", 0, data[0]["field"]]
        assert SAYS_RANGE in error["msg"]
        response = api(Role.VIEWER).get("/chatbots/support/sessions", filter=json.dumps(data))
        assert response.status_code == 422
        assert SAYS_RANGE in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("when", OUT_OF_RANGE)
def test_the_sessions_page_shows_the_error_and_lists_nothing(cast, login, chatbot, when):
    url = reverse("chat:session-list", kwargs={"slug": "support"})
    response = login(cast.viewer).get(url, {"f": f"created_at:after:{when}"})
    assert response.status_code == 200
    assert list(response.context["sessions"]) == []
    assert SAYS_RANGE in response.context["filter_state"].errors[0]


def test_the_longest_duration_back_from_now_stays_in_range():
    longest = max(
        (Duration().clean(f"{amount}{unit}") for amount, unit in [(36600, "d"), (5228, "w")]),
        key=lambda span: span.timedelta,
    )
    assert check_moment(longest.back_from(timezone.now()))
    with pytest.raises(ValueError, match="longer than a hundred years"):
        Duration().clean("5229w")


def test_a_duration_back_from_near_the_earliest_time_stops_there():
    near = EARLIEST + timedelta(days=1)
    assert Span(2, "d").back_from(near) == EARLIEST
    assert Span(1, "h").back_from(near) == datetime(1000, 1, 1, 23, tzinfo=UTC)
