"""The traffic services: each write path keeps the activity clock and the counters true."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from evalloop.chat import services
from evalloop.chat.models import Chatbot, Role, Session
from evalloop.chat.tests.factories import ChatbotFactory, MessageFactory, SessionFactory
from evalloop.lib.errors import Conflict

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def session(cast):
    session = SessionFactory(chatbot=ChatbotFactory(team=cast.team))
    Session.objects.filter(pk=session.pk).update(changed_at=LONG_AGO)
    session.refresh_from_db()
    return session


def clock(session):
    return Session.objects.get(pk=session.pk).changed_at


def test_it_creates_a_chatbot(cast):
    chatbot = services.create_chatbot(team=cast.team, slug="support", name="Support")
    assert Chatbot.objects.get(team=cast.team, slug="support") == chatbot


def test_a_taken_slug_is_a_conflict(cast):
    services.create_chatbot(team=cast.team, slug="support", name="Support")
    with pytest.raises(Conflict):
        services.create_chatbot(team=cast.team, slug="support", name="Other")


def test_another_team_may_use_the_same_slug(cast):
    services.create_chatbot(team=cast.team, slug="support", name="Support")
    services.create_chatbot(team=cast.other_team, slug="support", name="Support")
    assert Chatbot.objects.filter(slug="support").count() == 2


def test_ending_a_session_moves_the_clock(session):
    services.end_session(session=session)
    assert session.ended_at is not None
    assert clock(session) > LONG_AGO


def test_ending_an_ended_session_changes_nothing(session):
    services.end_session(session=session)
    first_end = session.ended_at
    Session.objects.filter(pk=session.pk).update(changed_at=LONG_AGO)
    services.end_session(session=session)
    assert Session.objects.get(pk=session.pk).ended_at == first_end
    assert clock(session) == LONG_AGO


def test_updating_state_moves_the_clock(session):
    services.update_session(session=session, state={"step": 2})
    assert Session.objects.get(pk=session.pk).state == {"step": 2}
    assert clock(session) > LONG_AGO


def test_updating_participant_data_moves_the_clock(session):
    services.update_session(session=session, participant_data={"plan": "pro"})
    assert clock(session) > LONG_AGO


def test_an_update_that_changes_nothing_leaves_the_clock(session):
    services.update_session(session=session, channel=session.channel, state=None)
    assert clock(session) == LONG_AGO


def test_adding_a_session_tag_moves_the_clock(session):
    services.change_session_tags(session=session, add=["vip"])
    assert [t.name for t in session.tags.all()] == ["vip"]
    assert clock(session) > LONG_AGO


def test_removing_a_session_tag_moves_the_clock(session):
    services.change_session_tags(session=session, add=["vip"])
    Session.objects.filter(pk=session.pk).update(changed_at=LONG_AGO)
    services.change_session_tags(session=session, remove=["vip"])
    assert not session.tags.exists()
    assert clock(session) > LONG_AGO


def test_adding_a_tag_already_there_leaves_the_clock(session):
    services.change_session_tags(session=session, add=["vip"])
    Session.objects.filter(pk=session.pk).update(changed_at=LONG_AGO)
    services.change_session_tags(session=session, add=["vip"], remove=["absent"])
    assert clock(session) == LONG_AGO


def test_tagging_a_message_moves_its_sessions_clock(session):
    message = MessageFactory(session=session)
    services.change_message_tags(message=message, add=["wrong-answer"])
    assert [t.name for t in message.tags.all()] == ["wrong-answer"]
    assert clock(session) > LONG_AGO


def test_untagging_a_message_moves_its_sessions_clock(session):
    message = MessageFactory(session=session)
    services.change_message_tags(message=message, add=["wrong-answer"])
    Session.objects.filter(pk=session.pk).update(changed_at=LONG_AGO)
    services.change_message_tags(message=message, remove=["wrong-answer"])
    assert not message.tags.exists()
    assert clock(session) > LONG_AGO


def test_tags_are_shared_within_the_team(session):
    other = SessionFactory(chatbot=session.chatbot)
    services.change_session_tags(session=session, add=["vip"])
    services.change_session_tags(session=other, add=[" vip "])
    assert session.tags.get() == other.tags.get()


@pytest.mark.parametrize("names", [[""], ["  "], ["x" * 101]])
def test_a_bad_tag_name_is_refused(session, names):
    with pytest.raises(ValidationError):
        services.change_session_tags(session=session, add=names)
    assert clock(session) == LONG_AGO


def test_a_tag_both_added_and_removed_is_refused(session):
    with pytest.raises(ValidationError):
        services.change_session_tags(session=session, add=["a"], remove=["a"])


def test_adding_a_message_keeps_the_counters_and_moves_the_clock(session):
    at = datetime(2024, 5, 1, 12, tzinfo=UTC)
    services.add_message(session=session, role=Role.HUMAN, content="hi", created_at=at)
    services.add_message(
        session=session, role=Role.AI, content="hello", created_at=at - timedelta(minutes=1)
    )
    stored = Session.objects.get(pk=session.pk)
    assert (stored.message_count, stored.last_message_at) == (2, at)
    assert stored.changed_at > LONG_AGO
    assert (session.message_count, session.last_message_at) == (2, at)
