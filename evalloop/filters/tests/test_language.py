import pytest

from evalloop.chat.models import Role
from evalloop.filters import (
    Clause,
    Filter,
    FilterError,
    Target,
    filter_from_querystring,
    parse_filter,
)
from evalloop.filters.fields import ROLES


def error_of(data, target=Target.SESSION):
    with pytest.raises(FilterError) as caught:
        parse_filter(data, target=target)
    return caught.value


def one(field, op, value):
    return [{"field": field, "op": op, "value": value}]


def test_an_unknown_field_names_the_clause_and_the_field():
    error = error_of([*one("channel", "eq", "web"), *one("colour", "eq", "red")])
    assert error.errors == [{"index": 1, "field": "colour", "message": error.errors[0]["message"]}]
    assert str(error).startswith('clause 2 (colour): unknown field "colour" (chatbot, ')


def test_an_operator_that_does_not_fit_the_field_is_refused():
    error = error_of(one("tags", "gt", 3))
    assert str(error) == (
        'clause 1 (tags): operator "gt" does not apply to tags (any_of, all_of, none_of)'
    )
    assert error.errors[0]["field"] == "tags"


@pytest.mark.parametrize(
    ("field", "op", "value", "message"),
    [
        ("tags", "any_of", "vip", "expected a list, got a string"),
        ("tags", "any_of", [], "the list is empty, so it would match nothing"),
        ("tags", "all_of", ["vip", 3], "item 2: expected a string, got a number"),
        ("channel", "in", [""], "item 1: a value is required"),
        ("participant", "contains", "  ", "a value is required"),
        ("chatbot", "eq", "Support Bot", "is not a slug"),
        ("message_count", "gt", "5", "expected a whole number, got a string"),
        ("message_count", "lt", -1, "from 0 to"),
        ("message_count", "eq", True, "expected a whole number, got a boolean"),
        ("ended", "is", "true", "expected true or false, got a string"),
        ("created_at", "after", 1714550400, "expected an ISO 8601 date and time, got a number"),
        ("created_at", "after", "yesterday", "is not an ISO 8601 date and time"),
        ("created_at", "before", "2025-05-01T10:00:00", "has no time zone"),
        ("created_at", "before", "0001-01-01T00:00:00+01:00", "out of range"),
        ("created_at", "between", ["2025-05-01T00:00:00Z"], "expected a list of two"),
        ("created_at", "between", ["2025-06-01T00:00Z", "2025-05-01T00:00Z"], "start must be"),
        ("ended_at", "within_last", "7x", "is not a duration like 30m, 12h, 7d or 2w"),
        ("ended_at", "within_last", "0d", "is not a duration"),
        ("ended_at", "within_last", "-1d", "is not a duration"),
        ("ended_at", "within_last", "999999w", "longer than a hundred years"),
        ("ended_at", "within_last", 7, "expected a duration like 7d, got a number"),
        ("message_content", "regex", "refund(", "not a valid regular expression"),
        ("message_content", "regex", "(?P<x>a)", "named groups"),
        ("message_content", "regex", "(?i:a)b", "flags are supported only as (?i) at the"),
        ("message_content", "contains", "a\x00b", "NUL character"),
        ("state", "eq", {"key": "plan"}, "expected an object with key and value"),
        ("state", "eq", {"key": "", "value": "pro"}, "the key must be a string"),
        ("state", "eq", {"key": "plan", "value": None}, "must be a non-empty string, a number"),
        ("state", "eq", {"key": "plan", "value": ["pro"]}, "must be a non-empty string, a number"),
        ("state", "contains", {"key": "plan", "value": 3}, "must be a non-empty string"),
        ("participant_data", "exists", {"key": "plan", "value": 1}, "expected an object with key"),
    ],
)
def test_a_wrong_value_is_refused_with_its_clause(field, op, value, message):
    error = error_of(one(field, op, value))
    assert error.errors[0]["index"] == 0
    assert error.errors[0]["field"] == field
    assert str(error).startswith(f"clause 1 ({field}): {op}: ")
    assert message in str(error)


def test_a_clause_needs_a_value_and_nothing_else():
    assert "a value is required" in str(error_of([{"field": "channel", "op": "eq"}]))
    extra = [{"field": "channel", "op": "eq", "value": "web", "negate": True}]
    assert "unknown key negate" in str(error_of(extra))


def test_a_clause_must_be_an_object():
    assert str(error_of(["channel=web"])).startswith('clause 1: expected an object {"field"')


def test_every_bad_clause_is_reported():
    error = error_of([*one("tags", "any_of", []), *one("channel", "eq", "web"), "x"])
    assert [e["index"] for e in error.errors] == [0, 2]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"field": "tags"}, "a filter is a list"),
        ("[{", "not valid JSON"),
        ([{"field": "channel", "op": "eq", "value": "web"}] * 51, "at most 50 clauses"),
    ],
)
def test_a_filter_must_be_a_list_of_clauses(data, message):
    error = error_of(data)
    assert error.errors[0]["index"] is None
    assert message in str(error)


def test_the_json_form_may_come_as_a_string():
    flt = parse_filter('[{"field": "channel", "op": "eq", "value": "web"}]', target="session")
    assert flt.clauses == (Clause("channel", "eq", "web"),)


def test_an_unknown_target_is_an_error():
    assert "target" in str(error_of([], target="chatbot"))


def test_message_fields_are_not_session_fields():
    assert "unknown field" in str(error_of(one("message_count", "gt", 1), Target.MESSAGE))
    assert "unknown field" in str(error_of(one("role", "eq", "ai"), Target.SESSION))
    assert "is not one of human, ai, system" in str(error_of(one("role", "eq", "bot"), "message"))


def test_a_hand_built_filter_is_checked_too():
    with pytest.raises(FilterError):
        Filter(Target.SESSION, (Clause("colour", "eq", "red"),))


def test_an_empty_filter_is_falsy():
    assert not parse_filter([], target="session")
    assert parse_filter(one("channel", "eq", "web"), target="session")


def test_clauses_read_as_english():
    flt = parse_filter(
        [
            *one("tags", "any_of", ["vip", "paid"]),
            *one("created_at", "within_last", "7d"),
            *one("last_message_at", "after", "2025-05-01T09:30:00Z"),
            *one("message_content", "contains", "refund"),
            *one("state", "eq", {"key": "plan", "value": "pro"}),
            *one("participant_data", "exists", {"key": "email"}),
            *one("ended", "is", False),
            *one("message_count", "gt", 4),
            *one("ended_at", "within_last", "1h"),
        ],
        target="session",
    )
    assert flt.describe() == [
        "tags any of vip, paid",
        "created within the last 7 days",
        "last message after 2025-05-01 09:30:00Z",
        "message content contains “refund”",
        "state “plan” is “pro”",
        "participant data “email” is present",
        "ended is no",
        "message count greater than 4",
        "end time within the last 1 hour",
    ]


def test_the_query_string_form_is_readable():
    flt = parse_filter(
        [
            *one("tags", "any_of", ["vip", "paid"]),
            *one("created_at", "within_last", "7d"),
            *one("state", "eq", {"key": "plan", "value": "pro"}),
        ],
        target="session",
    )
    expected = "f=tags:any_of:vip,paid&f=created_at:within_last:7d&f=state:eq:plan=pro"
    assert flt.to_querystring() == expected


def test_commas_and_numbers_in_the_query_string_keep_their_meaning():
    flt = parse_filter(
        [
            *one("tags", "any_of", ["a,b", "c\\d"]),
            *one("state", "eq", {"key": "x=y", "value": "3"}),
            *one("state", "eq", {"key": "n", "value": 3}),
        ],
        target="session",
    )
    assert filter_from_querystring(flt.to_querystring(), target="session") == flt
    assert "f=state:eq:x%5C=y=%223%22" in flt.to_querystring()


@pytest.mark.parametrize(
    ("qs", "message"),
    [
        ("f=tags", "clause 1: “tags” is not field:op:value"),
        ("f=colour:eq:red", 'clause 1 (colour): unknown field "colour"'),
        ("f=message_count:gt:many", "clause 1 (message_count): gt: expected a whole number"),
        ("f=state:eq:plan", "clause 1 (state): eq: “plan” is not key=value"),
        ("f=ended:is:maybe", "clause 1 (ended): is: expected true or false"),
        ("f=channel:eq:web&f=tags:any_of:", "clause 2 (tags): any_of: the list is empty"),
    ],
)
def test_a_bad_query_string_names_the_clause(qs, message):
    with pytest.raises(FilterError) as caught:
        filter_from_querystring(qs, target="session")
    assert str(caught.value).startswith(message)


def test_the_query_string_may_start_with_a_question_mark():
    flt = filter_from_querystring("?page=3&f=channel:eq:web", target="session")
    assert flt.clauses == (Clause("channel", "eq", "web"),)


def test_roles_are_the_chat_roles():
    assert set(ROLES) == set(Role.values)
