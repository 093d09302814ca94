"""Both forms of a filter round-trip exactly, whatever the filter."""

import json

from django.http import QueryDict
from hypothesis import given, settings
from hypothesis import strategies as st

from evalloop.filters import Target, filter_from_querystring, parse_filter
from evalloop.filters.tests.strategies import json_filters

targets = st.sampled_from(list(Target))
ROUNDS = settings(max_examples=200, deadline=None)


@st.composite
def filters(draw):
    target = draw(targets)
    return parse_filter(draw(json_filters(target)), target=target)


@ROUNDS
@given(filters())
def test_the_json_form_round_trips(flt):
    data = json.loads(json.dumps(flt.to_json()))
    assert parse_filter(data, target=flt.target) == flt
    assert parse_filter(data, target=flt.target).to_json() == flt.to_json()


@ROUNDS
@given(filters())
def test_the_query_string_form_round_trips(flt):
    qs = flt.to_querystring()
    assert filter_from_querystring(qs, target=flt.target) == flt
    assert filter_from_querystring(QueryDict(qs), target=flt.target) == flt


@ROUNDS
@given(filters(), st.lists(st.sampled_from(["page=2", "cursor=abc", "sort=-created_at"])))
def test_other_parameters_are_ignored(flt, others):
    qs = "&".join([*others, flt.to_querystring()])
    assert filter_from_querystring(qs, target=flt.target) == flt


@ROUNDS
@given(filters())
def test_every_clause_reads_as_one_english_phrase(flt):
    phrases = flt.describe()
    assert len(phrases) == len(flt.clauses)
    assert all(phrase.strip() for phrase in phrases)


@settings(max_examples=100, deadline=None)
@given(filters())
def test_the_json_form_is_canonical(flt):
    assert parse_filter(flt.to_json(), target=flt.target).to_querystring() == flt.to_querystring()
