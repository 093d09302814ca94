from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from evalloop.chat.models import Chatbot, Message, Role, Session, Tag
from evalloop.teams.tests.factories import TeamFactory


class ChatbotFactory(factory.django.DjangoModelFactory[Chatbot]):
    class Meta:
        model = Chatbot

    team = factory.SubFactory(TeamFactory)
    slug = factory.Sequence(lambda n: f"bot-{n}")
    name = factory.Sequence(lambda n: f"Bot {n}")


class SessionFactory(factory.django.DjangoModelFactory[Session]):
    class Meta:
        model = Session

    chatbot = factory.SubFactory(ChatbotFactory)
    team = factory.SelfAttribute("chatbot.team")
    external_id = factory.Sequence(lambda n: f"s-{n}")
    participant = factory.Sequence(lambda n: f"p-{n}")
    channel = "web"
    version = "v1"


class MessageFactory(factory.django.DjangoModelFactory[Message]):
    class Meta:
        model = Message

    session = factory.SubFactory(SessionFactory)
    role = Role.HUMAN
    content = factory.Faker("sentence")
    external_id = factory.Sequence(lambda n: f"m-{n}")


class TagFactory(factory.django.DjangoModelFactory[Tag]):
    class Meta:
        model = Tag
        django_get_or_create = ("team", "name")

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"tag-{n}")


def conversation(session: Session, *turns: tuple[str, str], start=None) -> list[Message]:  # type: ignore[no-untyped-def]
    """Add (role, content) turns one minute apart and keep the session's counters true.

    A test helper that writes through the ORM; production writes go through chat services.
    """
    start = start or session.created_at
    messages = [
        Message.objects.create(
            session=session, role=role, content=content, created_at=start + timedelta(minutes=i)
        )
        for i, (role, content) in enumerate(turns)
    ]
    if messages:
        session.message_count += len(messages)
        session.last_message_at = messages[-1].created_at
        session.changed_at = timezone.now()
        session.save(update_fields=["message_count", "last_message_at", "changed_at"])
    return messages
