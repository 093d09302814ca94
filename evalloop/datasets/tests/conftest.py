"""Fixtures shared by the datasets tests: team A's dataset "Golden" and chatbot "support"."""

import pytest

from evalloop.chat.tests.factories import ChatbotFactory
from evalloop.datasets.models import Mode
from evalloop.datasets.tests.factories import DatasetFactory


@pytest.fixture
def dataset(cast):
    return DatasetFactory(team=cast.team, name="Golden", mode=Mode.MESSAGE)


@pytest.fixture
def chatbot(cast):
    return ChatbotFactory(team=cast.team, slug="support")
