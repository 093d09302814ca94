"""Fixtures of the runs tests: fake kinds in the registry, a dataset, small batches."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from evalloop.datasets.models import Mode
from evalloop.datasets.tests.factories import DatasetFactory
from evalloop.evaluators import kinds
from evalloop.runs.tests.factories import ANSWERS, FakeKind


@pytest.fixture(autouse=True)
def fake_kinds(monkeypatch):
    """Register the fake kinds (by name) for the test; answer them so tests can look inside."""
    registered = {}
    for name, answer in ANSWERS.items():
        module = f"evalloop_fake_kinds.{name}"
        registered[name] = FakeKind(name=name, answer=answer)
        monkeypatch.setitem(sys.modules, module, SimpleNamespace(KIND=registered[name]))
        monkeypatch.setitem(kinds.REGISTRY, name, module)
    kinds.get_kind.cache_clear()
    yield registered
    kinds.get_kind.cache_clear()


@pytest.fixture(autouse=True)
def small_batches(settings):
    settings.EVALLOOP_RUN_BATCH_ROWS = 2
    settings.EVALLOOP_RUN_BATCHES_PER_RUN = 2
    settings.EVALLOOP_RUN_BATCHES_IN_FLIGHT = 10
    settings.EVALLOOP_RUN_STALL_LIMIT = 3
    settings.EVALLOOP_RUN_LEASE_SECONDS = 600


@pytest.fixture
def dataset(cast):
    return DatasetFactory(team=cast.team, name="Golden", mode=Mode.MESSAGE)


@pytest.fixture
def sent(monkeypatch):
    """Batches the coordinator dispatches, collected instead of sent, to step through runs."""
    from evalloop.runs import coordinator

    collected: list[int] = []
    monkeypatch.setattr(coordinator, "dispatch", collected.extend)
    return collected
