from __future__ import annotations

import factory

from evalloop.chat.models import SessionTag
from evalloop.chat.tests.factories import SessionFactory, TagFactory, conversation
from evalloop.datasets.models import Dataset, Mode, Origin, Row
from evalloop.teams.tests.factories import TeamFactory


class DatasetFactory(factory.django.DjangoModelFactory[Dataset]):
    class Meta:
        model = Dataset

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Dataset {n}")
    mode = Mode.MESSAGE


class RowFactory(factory.django.DjangoModelFactory[Row]):
    class Meta:
        model = Row

    dataset = factory.SubFactory(DatasetFactory)
    input = factory.Faker("sentence")
    output = factory.Faker("sentence")
    origin = Origin.MANUAL


def vip_sessions(chatbot, count):
    """Answer `count` sessions of one human turn and its reply, each tagged vip."""
    sessions = []
    for _ in range(count):
        session = SessionFactory(chatbot=chatbot)
        conversation(session, ("human", "hi"), ("ai", "hello"))
        SessionTag.objects.create(session=session, tag=TagFactory(team=chatbot.team, name="vip"))
        sessions.append(session)
    return sessions
