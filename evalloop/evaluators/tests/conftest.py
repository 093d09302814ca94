"""Fixtures of the evaluators tests: team A's dataset "Golden" and evaluator "Polite"."""

import pytest

from evalloop.datasets.models import Mode
from evalloop.datasets.tests.factories import DatasetFactory
from evalloop.evaluators.tests.factories import EvaluatorFactory


@pytest.fixture
def dataset(cast):
    return DatasetFactory(team=cast.team, name="Golden", mode=Mode.MESSAGE)


@pytest.fixture
def evaluator(cast):
    return EvaluatorFactory(team=cast.team, name="Polite", params={"words": ["thanks", "please"]})


@pytest.fixture
def scored_kind(monkeypatch):
    """Register the tests' `scored` kind, which takes an output schema, for one test."""
    from evalloop.evaluators import kinds

    monkeypatch.setitem(kinds.REGISTRY, "scored", "evalloop.evaluators.tests.scored_kind")
    kinds.get_kind.cache_clear()
    yield
    kinds.get_kind.cache_clear()
