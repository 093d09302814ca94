from urllib.parse import parse_qsl, urlsplit

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory

from evalloop.chat.models import Session
from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory
from evalloop.filters import Clause, read_filter_request
from evalloop.filters.builder import MAX_CLAUSE_TEXT
from evalloop.filters.language import MAX_CLAUSES

PATH = "/chatbots/support/sessions/"


def state_of(query, target="session"):
    return read_filter_request(RequestFactory().get(PATH, query), target=target)


def params(url):
    parts = urlsplit(url)
    assert parts.path == PATH
    return parse_qsl(parts.query)


def test_a_page_without_a_filter_has_an_empty_one():
    state = state_of({})
    assert not state.filter
    assert state.errors == []
    assert state.redirect_to is None
    assert state.draft.field.name == "tags"


def test_it_reads_the_filter_of_the_url():
    state = state_of({"f": ["tags:any_of:vip,paid", "message_count:gt:3"], "page": "2"})
    assert state.filter.clauses == (
        Clause("tags", "any_of", ("vip", "paid")),
        Clause("message_count", "gt", 3),
    )
    assert state.querystring == "f=tags:any_of:vip,paid&f=message_count:gt:3"
    assert [chip.description for chip in state.chips] == [
        "tags any of vip, paid",
        "message count greater than 3",
    ]


def test_each_chip_links_to_the_page_without_it_and_from_the_first_page():
    state = state_of({"f": ["channel:eq:web", "version:eq:v2"], "page": "4", "sort": "old"})
    assert params(state.chips[0].remove_url) == [("sort", "old"), ("f", "version:eq:v2")]
    assert params(state.chips[1].remove_url) == [("sort", "old"), ("f", "channel:eq:web")]
    assert state.kept == [("sort", "old")]


def test_a_bad_clause_is_an_error_and_the_page_lists_nothing(db):
    SessionFactory()
    state = state_of({"f": ["channel:eq:web", "message_count:gt:lots"]})
    assert state.errors == ["clause 2 (message_count): gt: expected a whole number, got a string"]
    assert state.filter.clauses == (Clause("channel", "eq", "web"),)
    assert state.chips[1].error
    team = Session.objects.get().team
    assert list(state.apply(Session.objects.all(), team=team)) == []


def test_a_good_filter_applies(db):
    session = SessionFactory(channel="web")
    SessionFactory(chatbot=ChatbotFactory(team=session.team), channel="sms")
    state = state_of({"f": "channel:eq:web"})
    assert list(state.apply(Session.objects.all(), team=session.team)) == [session]


def test_adding_a_clause_redirects_to_the_canonical_url():
    query = {"f": "channel:eq:web", "page": "3", "sort": "old"}
    query |= {"field": "tags", "op": "any_of", "value": " vip , paid ", "add": "1"}
    state = state_of(query)
    assert state.errors == []
    assert params(state.redirect_to) == [
        ("sort", "old"),
        ("f", "channel:eq:web"),
        ("f", "tags:any_of:vip,paid"),
    ]


@pytest.mark.parametrize(
    ("inputs", "added"),
    [
        (
            {"field": "created_at", "op": "after", "value": "2025-05-01T10:00"},
            "2025-05-01T10:00:00Z",
        ),
        (
            {
                "field": "ended_at",
                "op": "between",
                "value": "2025-05-01T00:00",
                "value_end": "2025-06-01T00:00",
            },
            "2025-05-01T00:00:00Z,2025-06-01T00:00:00Z",
        ),
        ({"field": "last_message_at", "op": "within_last", "value": "12h"}, "12h"),
        ({"field": "ended", "op": "is", "value": "false"}, "false"),
        ({"field": "message_count", "op": "eq", "value": "007"}, "7"),
        ({"field": "state", "op": "eq", "value_key": "seats", "value": "3"}, "seats=3"),
        ({"field": "state", "op": "eq", "value_key": "plan", "value": "pro"}, "plan=pro"),
        ({"field": "participant_data", "op": "exists", "value_key": "email"}, "email"),
        ({"field": "message_content", "op": "regex", "value": "^hi"}, "^hi"),
    ],
)
def test_the_builder_reads_each_kind_of_input(inputs, added):
    state = state_of({**inputs, "add": "1"})
    assert state.errors == []
    clause = f"{inputs['field']}:{inputs['op']}:{added}"
    assert params(state.redirect_to) == [("f", clause)]


def test_the_builder_reads_checked_choices():
    state = state_of({"field": "role", "op": "in", "value": ["human", "ai"], "add": "1"}, "message")
    assert params(state.redirect_to) == [("f", "role:in:human,ai")]


def test_a_bad_new_clause_is_an_error_and_keeps_what_was_typed():
    state = state_of({"field": "message_count", "op": "gt", "value": "many", "add": "1"})
    assert state.redirect_to is None
    assert state.errors == ["new filter (message_count): gt: expected a whole number, got a string"]
    assert state.draft.value == "many"
    assert state.draft.operator.name == "gt"


def test_an_empty_new_clause_is_an_error():
    state = state_of({"field": "tags", "op": "any_of", "value": "", "add": "1"})
    assert state.errors == [
        "new filter (tags): any_of: the list is empty, so it would match nothing"
    ]


def test_removing_a_clause_redirects_without_it():
    state = state_of({"f": ["channel:eq:web", "tags:any_of:vip", "ended:is:true"], "remove": "1"})
    assert params(state.redirect_to) == [("f", "channel:eq:web"), ("f", "ended:is:true")]


def test_removing_the_last_clause_redirects_to_the_bare_page():
    state = state_of({"f": "tags:any_of:", "remove": "0"})
    assert state.redirect_to == PATH


def test_an_unknown_draft_field_or_operator_falls_back_to_a_default():
    state = state_of({"field": "colour", "op": "near"})
    assert (state.draft.field.name, state.draft.operator.name) == ("tags", "any_of")
    state = state_of({"field": "created_at", "op": "any_of"})
    assert (state.draft.field.name, state.draft.operator.name) == ("created_at", "before")


def test_the_builder_renders_chips_errors_and_the_add_row():
    state = state_of({"f": ["tags:any_of:<script>x</script>", "message_count:gt:x"], "sort": "a"})
    html = render_to_string("filters/builder.html", {"state": state, "target": "session"})
    assert "<script>x" not in html
    assert "tags any of &lt;script&gt;x&lt;/script&gt;" in html
    assert "clause 2 (message_count)" in html
    assert 'name="f" value="tags:any_of:&lt;script&gt;x&lt;/script&gt;"' in html
    assert '<input type="hidden" name="sort" value="a">' in html
    assert 'name="field"' in html
    assert 'name="add"' in html


def test_the_builder_shows_the_inputs_of_the_chosen_operator():
    state = state_of({"field": "created_at", "op": "between"})
    html = render_to_string("filters/builder.html", {"state": state, "target": "session"})
    assert html.count('type="datetime-local"') == 2
    assert 'name="value_end"' in html


def test_adding_a_clause_that_makes_the_url_too_long_is_an_error():
    names = ",".join(f"participant-{n:03}" for n in range(100))
    long_clauses = [f"participant:in:{names}"] * 5
    query = {"f": long_clauses, "field": "channel", "op": "eq", "value": "web", "add": "1"}
    state = state_of(query)
    assert state.redirect_to is None
    [error] = state.errors
    assert error.startswith("new filter (channel): with it the filter is too long for a web")
    assert "at most 8000" in error


# What a request may send: a filter's worth, no more


def test_more_clauses_than_a_filter_holds_are_refused_unread():
    state = state_of({"f": [f"tags:any_of:t{index}" for index in range(5000)], "sort": "old"})
    assert state.errors == ["a filter has at most 50 clauses; this one has 5,000, so none was read"]
    assert not state.filter
    assert state.chips == []
    assert state.kept == [("sort", "old")]


def test_a_clause_longer_than_any_clause_can_be_is_refused_and_not_echoed():
    text = "tags:any_of:" + "x" * (MAX_CLAUSE_TEXT + 1)
    state = state_of({"f": ["channel:eq:web", text]})
    assert not state.filter
    assert state.chips == []
    [error] = state.errors
    assert error.startswith("clause 2: “tags:any_of:xxx")
    assert len(error) < 300


def test_a_long_clause_that_cannot_be_read_is_refused_not_shown():
    text = "nope" * 5000 + ":eq:1"
    state = state_of({"f": ["channel:eq:web", text]})
    assert not state.filter
    assert state.chips == []
    [error] = state.errors
    assert "clause 2" in error
    assert "20,005 characters" in error
    assert len(error) < 600


def test_a_short_clause_that_cannot_be_read_stays_a_chip_with_a_short_reading():
    text = "tags:any_of:" + "x" * 600
    state = state_of({"f": ["channel:eq:web", text]})
    assert state.chips[1].text == text  # carried along, so the filter stays in error
    assert len(state.chips[1].description) < 100
    assert state.errors == ["clause 2 (tags): any_of: item 1: at most 500 characters"]


def test_a_filter_at_its_limit_adds_no_clause():
    query = {"f": [f"tags:any_of:t{index}" for index in range(MAX_CLAUSES)]}
    state = state_of(query | {"field": "channel", "op": "eq", "value": "web", "add": "1"})
    assert state.redirect_to is None
    assert state.errors == [
        "new filter (channel): a filter has at most 50 clauses; remove one first"
    ]
    assert len(state.filter.clauses) == MAX_CLAUSES


def test_a_chip_links_to_the_page_without_it_only_when_that_fits_in_a_url():
    long = "tags:any_of:" + ",".join(f"{index:02d}-" + "t" * 400 for index in range(30))
    state = state_of({"f": ["channel:eq:web", long]})
    assert state.errors == []
    assert state.chips[0].remove_url == ""  # the page with the long clause is no web address
    assert params(state.chips[1].remove_url) == [("f", "channel:eq:web")]
