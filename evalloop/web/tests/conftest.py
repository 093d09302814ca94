"""Real data for the dashboard tests: traffic through ingestion, rules that tick, finished runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from evalloop.autopopulate import services as rules
from evalloop.autopopulate.models import Rule
from evalloop.autopopulate.tick import tick_rule
from evalloop.chat import services as chat
from evalloop.chat.ingest import ingest_traffic
from evalloop.chat.models import Chatbot
from evalloop.chat.schemas import TrafficBatch
from evalloop.datasets.models import Dataset, Mode
from evalloop.evaluators.tests.factories import EvaluatorFactory
from evalloop.runs import aggregates
from evalloop.runs.models import Config, Run
from evalloop.runs.tests.factories import add_rows, finish, make_config, start
from evalloop.teams import flags
from evalloop.teams import services as teams
from evalloop.teams.models import Team


def send(team: Team, slug: str, *times: datetime, ended: bool = True, key: str = "") -> None:
    """One conversation of `slug` per time: a question then its answer a second later."""
    sessions = [
        {
            "chatbot": slug,
            "external_id": f"{key or slug}-{index}-{moment.timestamp()}",
            "ended": ended,
            "messages": [
                {"role": "human", "content": "Where is my parcel?", "created_at": moment},
                {
                    "role": "ai",
                    "content": "It arrives tomorrow.",
                    "created_at": moment + timedelta(seconds=1),
                },
            ],
        }
        for index, moment in enumerate(times)
    ]
    ingest_traffic(team=team, batch=TrafficBatch.model_validate({"sessions": sessions}))


@pytest.fixture
def chatbot(cast: Any) -> Chatbot:
    return chat.create_chatbot(team=cast.team, slug="shop", name="Shop bot")


@pytest.fixture
def auto_populate(cast: Any) -> None:
    teams.set_team_flag(team=cast.team, name=flags.AUTO_POPULATE_DATASETS, active=True)


@pytest.fixture
def make_rule(cast: Any) -> Callable[..., Rule]:
    """A rule taking every ended session of `chatbot` into a new session-mode dataset."""

    def _make(chatbot: Chatbot, name: str = "From the shop") -> Rule:
        dataset = Dataset.objects.create(team=chatbot.team, name=name, mode=Mode.SESSION)
        start_at = timezone.now() - timedelta(hours=1)
        return rules.create_rule(dataset=dataset, chatbot=chatbot, start_at=start_at)

    return _make


def tick(rule: Rule) -> None:
    """One tick of `rule` a moment after every write so far."""
    tick_rule(rule_id=rule.pk, now=timezone.now() + timedelta(seconds=1))


@pytest.fixture
def sent(monkeypatch: Any) -> list[int]:
    """Batches the coordinator dispatches, collected instead of sent, to step through runs."""
    from evalloop.runs import coordinator

    collected: list[int] = []
    monkeypatch.setattr(coordinator, "dispatch", collected.extend)
    return collected


@pytest.fixture
def scored(cast: Any, sent: list[int]) -> Callable[..., Config]:
    """A config over a dataset of rows, scored by `length` (a number and a yes or no)."""

    def _make(name: str = "Nightly", *, outputs: tuple[str, ...] = ("ab", "abcd"), **options: Any):  # type: ignore[no-untyped-def]
        dataset = Dataset.objects.create(team=cast.team, name=f"Rows of {name}", mode=Mode.MESSAGE)
        add_rows(dataset, *outputs)
        evaluator = EvaluatorFactory(
            team=cast.team, name=f"Size for {name}", kind="length", params={"max": 3}
        )
        return make_config(dataset, evaluator, name=name, **options)

    return _make


def run_to_the_end(config: Config, sent: list[int], **options: Any) -> Run:
    """Start a run of `config`, drive it to its end and compute its aggregates."""
    run = finish(start(config, **options), sent)
    aggregates.compute_aggregates(run=run)
    run.refresh_from_db()
    return run
