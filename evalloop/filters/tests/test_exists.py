"""Clauses over one-to-many relations compile to EXISTS: one row per outer row, no DISTINCT."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from evalloop.chat.models import Message, MessageTag, Session, SessionTag
from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory, TagFactory, conversation
from evalloop.filters import Target, apply_filter, parse_filter
from evalloop.teams.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

SESSION_CLAUSES = [
    {"field": "tags", "op": "any_of", "value": ["vip", "paid"]},
    {"field": "tags", "op": "all_of", "value": ["vip", "paid"]},
    {"field": "tags", "op": "none_of", "value": ["spam"]},
    {"field": "message_content", "op": "contains", "value": "refund"},
    {"field": "message_content", "op": "regex", "value": "refund"},
]
MESSAGE_CLAUSES = [
    {"field": "tags", "op": "any_of", "value": ["vip", "paid"]},
    {"field": "tags", "op": "all_of", "value": ["vip", "paid"]},
    {"field": "session.tags", "op": "any_of", "value": ["vip", "paid"]},
    {"field": "session.tags", "op": "none_of", "value": ["spam"]},
    {"field": "session.message_content", "op": "contains", "value": "refund"},
]


@pytest.fixture
def crowded():
    """A session where every one-to-many clause matches many times over."""
    team = TeamFactory()
    session = SessionFactory(chatbot=ChatbotFactory(team=team))
    vip, paid = TagFactory(team=team, name="vip"), TagFactory(team=team, name="paid")
    SessionTag.objects.create(session=session, tag=vip)
    SessionTag.objects.create(session=session, tag=paid)
    turns = [("human", f"refund number {n}, refund please") for n in range(4)]
    for message in conversation(session, *turns):
        MessageTag.objects.create(message=message, tag=vip)
        MessageTag.objects.create(message=message, tag=paid)
    return team


@pytest.mark.parametrize("clause", SESSION_CLAUSES, ids=lambda c: f"{c['field']}-{c['op']}")
def test_a_session_clause_never_duplicates_sessions(crowded, clause):
    flt = parse_filter([clause], target=Target.SESSION)
    rows = list(apply_filter(Session.objects.for_team(crowded), flt, team=crowded))
    assert len(rows) == len({row.pk for row in rows}) == 1


@pytest.mark.parametrize("clause", MESSAGE_CLAUSES, ids=lambda c: f"{c['field']}-{c['op']}")
def test_a_message_clause_never_duplicates_messages(crowded, clause):
    flt = parse_filter([clause], target=Target.MESSAGE)
    messages = Message.objects.filter(session__team=crowded)
    rows = list(apply_filter(messages, flt, team=crowded))
    assert len(rows) == len({row.pk for row in rows}) == 4


def test_the_list_query_has_no_distinct_and_no_join_to_messages_or_tags(crowded):
    flt = parse_filter(SESSION_CLAUSES, target=Target.SESSION)
    queryset = apply_filter(Session.objects.for_team(crowded), flt, team=crowded)
    page = queryset.order_by("-created_at")[:50]
    with CaptureQueriesContext(connection) as queries:
        assert len(list(page)) == 1
    sql = queries.captured_queries[0]["sql"]
    assert "DISTINCT" not in sql.upper()
    assert outer_tables(sql) == ["chat_session"]
    assert sql.upper().count("EXISTS") >= len(SESSION_CLAUSES)


def outer_tables(sql):
    """The tables of the outer query's FROM and JOINs, with parenthesised subqueries cut out."""
    outer, depth = [], 0
    for char in sql:
        depth += char == "("
        if depth == 0:
            outer.append(char)
        depth -= char == ")"
    words = "".join(outer).replace('"', "").split()
    return [words[i + 1] for i, word in enumerate(words) if word.upper() in {"FROM", "JOIN"}]


def test_postgresql_probes_each_row_instead_of_reading_whole_tables(crowded):
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL planner decision")
    flt = parse_filter(SESSION_CLAUSES, target=Target.SESSION)
    queryset = apply_filter(Session.objects.for_team(crowded), flt, team=crowded)
    plan = queryset.order_by("-created_at")[:50].explain()
    assert "Semi Join" not in plan
    assert "hashed SubPlan" not in plan
    assert "OFFSET 0" in str(queryset.query)
