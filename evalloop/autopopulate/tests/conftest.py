"""Team A with auto-population on, its chatbot "support" and a session-mode dataset."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from evalloop.autopopulate import kicks, services
from evalloop.chat.tests.factories import ChatbotFactory
from evalloop.datasets.models import Mode
from evalloop.datasets.tests.factories import DatasetFactory
from evalloop.teams import flags
from evalloop.teams import services as teams


@pytest.fixture(autouse=True)
def _auto_population_on(cast):
    teams.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=True)


@pytest.fixture
def chatbot(cast):
    return ChatbotFactory(team=cast.team, slug="support", name="Support")


@pytest.fixture
def dataset(cast):
    return DatasetFactory(team=cast.team, name="Golden", mode=Mode.SESSION)


@pytest.fixture
def make_rule(dataset, chatbot):
    def _make(**options):
        options.setdefault("start_at", timezone.now() - timedelta(hours=1))
        return services.create_rule(
            dataset=options.pop("dataset", dataset), chatbot=chatbot, **options
        )

    return _make


@pytest.fixture(autouse=True)
def _kicks_breaker_closed():
    """Each test starts with kicks allowed: a test refusing them must not leak into others."""
    kicks.breaker.reset()
    yield
    kicks.breaker.reset()
