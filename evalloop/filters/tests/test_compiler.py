from datetime import timedelta

import pytest
from django.utils import timezone

from evalloop.chat.models import Message, MessageTag, Session, SessionTag
from evalloop.chat.tests.factories import (
    ChatbotFactory,
    MessageFactory,
    SessionFactory,
    TagFactory,
    conversation,
)
from evalloop.filters import Filter, Target, apply_filter, parse_filter
from evalloop.teams.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture
def team():
    return TeamFactory()


@pytest.fixture
def bot(team):
    return ChatbotFactory(team=team, slug="support")


def matching(team, *clauses, target=Target.SESSION):
    """Answer the external ids (sessions) or contents (messages) the filter keeps."""
    flt = parse_filter(list(clauses), target=target)
    if target == Target.SESSION:
        rows = apply_filter(Session.objects.for_team(team), flt, team=team)
        return sorted(row.external_id for row in rows)
    rows = apply_filter(Message.objects.filter(session__team=team), flt, team=team)
    return sorted(row.content for row in rows)


def clause(field, op, value):
    return {"field": field, "op": op, "value": value}


def tag_session(session, *names):
    for name in names:
        SessionTag.objects.create(session=session, tag=TagFactory(team=session.team, name=name))


def tag_message(message, *names):
    for name in names:
        tag = TagFactory(team=message.session.team, name=name)
        MessageTag.objects.create(message=message, tag=tag)


def test_chatbot_matches_by_slug(team, bot):
    SessionFactory(chatbot=bot, external_id="a")
    SessionFactory(chatbot=ChatbotFactory(team=team, slug="sales"), external_id="b")
    assert matching(team, clause("chatbot", "eq", "support")) == ["a"]
    assert matching(team, clause("chatbot", "in", ["support", "sales"])) == ["a", "b"]


def test_chatbot_slug_of_another_team_matches_nothing(team, bot):
    SessionFactory(chatbot=bot, external_id="a")
    ChatbotFactory(slug="elsewhere")
    assert matching(team, clause("chatbot", "eq", "elsewhere")) == []


def test_text_fields_match_exactly_or_by_substring_ignoring_case(team, bot):
    SessionFactory(chatbot=bot, external_id="a", participant="Alice", channel="web")
    SessionFactory(chatbot=bot, external_id="b", participant="bob", channel="sms", version="v2")
    assert matching(team, clause("participant", "eq", "alice")) == []
    assert matching(team, clause("participant", "contains", "LIC")) == ["a"]
    assert matching(team, clause("channel", "in", ["sms", "email"])) == ["b"]
    assert matching(team, clause("version", "eq", "v2")) == ["b"]


def test_tags_any_of_finds_tags_on_the_session_or_its_messages(team, bot):
    on_session = SessionFactory(chatbot=bot, external_id="on-session")
    tag_session(on_session, "vip")
    on_message = SessionFactory(chatbot=bot, external_id="on-message")
    tag_message(MessageFactory(session=on_message), "vip")
    SessionFactory(chatbot=bot, external_id="untagged")
    assert matching(team, clause("tags", "any_of", ["vip", "paid"])) == ["on-message", "on-session"]


def test_tags_all_of_may_combine_session_and_message_tags(team, bot):
    both = SessionFactory(chatbot=bot, external_id="both")
    tag_session(both, "vip")
    tag_message(MessageFactory(session=both), "paid")
    tag_session(SessionFactory(chatbot=bot, external_id="one"), "vip")
    assert matching(team, clause("tags", "all_of", ["vip", "paid"])) == ["both"]


def test_tags_none_of_keeps_untagged_sessions(team, bot):
    tagged = SessionFactory(chatbot=bot, external_id="tagged")
    tag_message(MessageFactory(session=tagged), "spam")
    tag_session(SessionFactory(chatbot=bot, external_id="other"), "vip")
    SessionFactory(chatbot=bot, external_id="plain")
    assert matching(team, clause("tags", "none_of", ["spam"])) == ["other", "plain"]


def test_tags_are_looked_up_in_the_filters_team_only(team, bot):
    session = SessionFactory(chatbot=bot, external_id="a")
    foreign = TagFactory(name="vip")  # same name, another team
    SessionTag.objects.create(session=session, tag=foreign)
    assert matching(team, clause("tags", "any_of", ["vip"])) == []


def test_an_unknown_tag_matches_nothing(team, bot):
    tag_session(SessionFactory(chatbot=bot, external_id="a"), "vip")
    assert matching(team, clause("tags", "any_of", ["nope"])) == []
    assert matching(team, clause("tags", "none_of", ["nope"])) == ["a"]


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("before", (NOW - timedelta(days=5)).isoformat(), ["old"]),
        ("after", (NOW - timedelta(days=5)).isoformat(), ["new"]),
        (
            "between",
            [(NOW - timedelta(days=11)).isoformat(), (NOW - timedelta(days=9)).isoformat()],
            ["old"],
        ),
        ("within_last", "7d", ["new"]),
        ("within_last", "2w", ["new", "old"]),
    ],
)
def test_times_compare_with_the_value(team, bot, op, value, expected):
    SessionFactory(chatbot=bot, external_id="old", created_at=NOW - timedelta(days=10))
    SessionFactory(chatbot=bot, external_id="new", created_at=NOW - timedelta(hours=1))
    assert matching(team, clause("created_at", op, value)) == expected


def test_between_includes_the_start_and_excludes_the_end(team, bot):
    start, end = NOW - timedelta(days=2), NOW - timedelta(days=1)
    SessionFactory(chatbot=bot, external_id="at-start", created_at=start)
    SessionFactory(chatbot=bot, external_id="at-end", created_at=end)
    period = [start.isoformat(), end.isoformat()]
    assert matching(team, clause("created_at", "between", period)) == ["at-start"]


def test_an_empty_time_never_matches_before_or_after(team, bot):
    SessionFactory(chatbot=bot, external_id="open")
    SessionFactory(chatbot=bot, external_id="closed", ended_at=NOW - timedelta(days=1))
    assert matching(team, clause("ended_at", "before", NOW.isoformat())) == ["closed"]
    assert matching(team, clause("last_message_at", "within_last", "30d")) == []


def test_ended_is_whether_the_session_has_an_end(team, bot):
    SessionFactory(chatbot=bot, external_id="open")
    SessionFactory(chatbot=bot, external_id="closed", ended_at=NOW)
    assert matching(team, clause("ended", "is", True)) == ["closed"]
    assert matching(team, clause("ended", "is", False)) == ["open"]


def test_message_count_compares_the_sessions_counter(team, bot):
    conversation(SessionFactory(chatbot=bot, external_id="long"), *[("human", "hi")] * 5)
    conversation(SessionFactory(chatbot=bot, external_id="short"), ("human", "hi"))
    assert matching(team, clause("message_count", "gt", 1)) == ["long"]
    assert matching(team, clause("message_count", "lt", 5)) == ["short"]
    assert matching(team, clause("message_count", "eq", 5)) == ["long"]


def test_message_content_looks_at_any_message(team, bot):
    conversation(
        SessionFactory(chatbot=bot, external_id="refund"),
        ("human", "I want a REFUND"),
        ("ai", "Sure."),
    )
    conversation(SessionFactory(chatbot=bot, external_id="other"), ("human", "hello"))
    assert matching(team, clause("message_content", "contains", "refund")) == ["refund"]
    assert matching(team, clause("message_content", "regex", "RE[F]UND")) == ["refund"]
    assert matching(team, clause("message_content", "regex", "^hel+o$")) == ["other"]


def test_regex_is_case_sensitive_unless_it_says_otherwise(team, bot):
    conversation(SessionFactory(chatbot=bot, external_id="a"), ("human", "Refund"))
    assert matching(team, clause("message_content", "regex", "refund")) == []
    assert matching(team, clause("message_content", "regex", "(?i)refund")) == ["a"]


REGEX_TEXTS = ["Refund\nplease", "café au lait", "order 555-0199", "line one\n", "a{b}", "x"]


@pytest.mark.parametrize(
    ("pattern", "kept"),
    [
        ("^Refund.please$", ["Refund\nplease"]),  # . takes the newline, ^ and $ the text's ends
        ("one$", []),  # $ is the end of the text, before its last newline or not
        (r"^\w+ \w+", ["café au lait", "line one\n", "order 555-0199"]),  # \w takes é
        (r"\d{3}-\d{4}", ["order 555-0199"]),
        (r"[[:alpha:]]é\s", ["café au lait"]),
        (r"a\{b\}", ["a{b}"]),
        ("(?i)refund|^X", ["Refund\nplease", "x"]),
        ("(a+)+$", []),
    ],
)
def test_a_regex_keeps_the_same_messages_on_every_database(team, bot, pattern, kept):
    conversation(SessionFactory(chatbot=bot), *(("human", text) for text in REGEX_TEXTS))
    found = matching(team, clause("content", "regex", pattern), target=Target.MESSAGE)
    assert found == sorted(kept)


def test_state_and_participant_data_match_by_key(team, bot):
    SessionFactory(
        chatbot=bot,
        external_id="pro",
        state={"plan": "pro", "seats": 3, "trial": False},
        participant_data={"country": "France"},
    )
    SessionFactory(chatbot=bot, external_id="free", state={"plan": "free", "seats": "3"})
    assert matching(team, clause("state", "eq", {"key": "plan", "value": "pro"})) == ["pro"]
    assert matching(team, clause("state", "eq", {"key": "seats", "value": 3})) == ["pro"]
    assert matching(team, clause("state", "eq", {"key": "seats", "value": "3"})) == ["free"]
    assert matching(team, clause("state", "eq", {"key": "trial", "value": False})) == ["pro"]
    assert matching(team, clause("state", "contains", {"key": "plan", "value": "FR"})) == ["free"]
    assert matching(team, clause("state", "exists", {"key": "trial"})) == ["pro"]
    country = {"key": "country", "value": "fran"}
    assert matching(team, clause("participant_data", "contains", country)) == ["pro"]


def test_a_key_with_odd_characters_is_one_key(team, bot):
    SessionFactory(chatbot=bot, external_id="a", state={"a__b": "x", "c.d": "y"})
    assert matching(team, clause("state", "exists", {"key": "a__b"})) == ["a"]
    assert matching(team, clause("state", "eq", {"key": "c.d", "value": "y"})) == ["a"]


def test_clauses_combine_with_and(team, bot):
    tag_session(SessionFactory(chatbot=bot, external_id="a", channel="web"), "vip")
    tag_session(SessionFactory(chatbot=bot, external_id="b", channel="sms"), "vip")
    clauses = [clause("tags", "any_of", ["vip"]), clause("channel", "eq", "web")]
    assert matching(team, *clauses) == ["a"]


def test_an_empty_filter_keeps_everything(team, bot):
    SessionFactory(chatbot=bot, external_id="a")
    assert matching(team) == ["a"]


def test_it_refuses_a_queryset_of_the_other_target(team):
    with pytest.raises(TypeError):
        apply_filter(Message.objects.all(), Filter(Target.SESSION), team=team)


class TestMessageTarget:
    @pytest.fixture
    def messages(self, team, bot):
        web = SessionFactory(chatbot=bot, channel="web", version="v2", external_id="web")
        sms = SessionFactory(chatbot=bot, channel="sms", version="v1", external_id="sms")
        tag_session(sms, "vip")
        turns = conversation(web, ("human", "Where is my order?"), ("ai", "On its way."))
        tag_message(turns[1], "good")
        conversation(sms, ("human", "Cancel please"), ("ai", "Cancelled."))
        return turns

    def test_role_and_content(self, team, messages):
        found = matching(team, clause("role", "in", ["ai"]), target=Target.MESSAGE)
        assert found == ["Cancelled.", "On its way."]
        found = matching(team, clause("content", "contains", "ORDER"), target=Target.MESSAGE)
        assert found == ["Where is my order?"]
        found = matching(team, clause("content", "regex", "^Cancel"), target=Target.MESSAGE)
        assert found == ["Cancel please", "Cancelled."]

    def test_tags_are_the_messages_own(self, team, messages):
        found = matching(team, clause("tags", "any_of", ["good", "vip"]), target=Target.MESSAGE)
        assert found == ["On its way."]

    def test_session_fields_look_at_the_messages_session(self, team, messages):
        found = matching(team, clause("session.tags", "any_of", ["vip"]), target=Target.MESSAGE)
        assert found == ["Cancel please", "Cancelled."]
        found = matching(team, clause("session.channel", "eq", "web"), target=Target.MESSAGE)
        assert found == ["On its way.", "Where is my order?"]
        found = matching(team, clause("version", "eq", "v1"), target=Target.MESSAGE)
        assert found == ["Cancel please", "Cancelled."]

    def test_session_message_content_looks_at_sibling_messages(self, team, messages):
        found = matching(
            team, clause("session.message_content", "contains", "order"), target=Target.MESSAGE
        )
        assert found == ["On its way.", "Where is my order?"]

    def test_created_at(self, team, messages):
        cutoff = (messages[0].created_at + timedelta(seconds=30)).isoformat()
        found = matching(team, clause("created_at", "after", cutoff), target=Target.MESSAGE)
        assert "Where is my order?" not in found
        assert "On its way." in found
