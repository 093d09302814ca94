"""Generated requests against the live OpenAPI document: no 5xx, every answer as declared.

Schemathesis reads /api/v1/openapi.json from the app in-process (WSGI) and sends, for every
operation, requests built from its declared parameters and bodies, valid and invalid. Each
response must not be a 5xx, must have a declared status and content type, and must match the
declared body schema. Path parameters often name real objects of a small seeded team, so
requests reach past the 404.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import strategies as st

from evalloop.autopopulate import services as rule_services
from evalloop.autopopulate.models import Rule
from evalloop.chat import services as chat_services
from evalloop.chat.ingest import ingest_traffic, parse_batch
from evalloop.datasets.models import ImportJob, Mode, Row
from evalloop.datasets.tests.factories import DatasetFactory, RowFactory
from evalloop.evaluators.services import create_evaluator
from evalloop.runs.models import RunStatus
from evalloop.runs.tests import scenes
from evalloop.teams import flags
from evalloop.teams import services as team_services
from evalloop.teams.models import Team
from evalloop.teams.permissions import Role
from evalloop.teams.tests.factories import UserFactory

pytestmark = pytest.mark.schemathesis

MAX_EXAMPLES = 25
# Past this many seconds of the run, the operations left are skipped (and say so), so a slow
# machine keeps the suite's time bounded.
BUDGET_SECONDS = 150
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
)
BATCH = {
    "sessions": [
        {
            "chatbot": "support",
            "external_id": f"s-{n}",
            "tags": ["vip"],
            "messages": [
                {"external_id": "m-1", "role": "human", "content": "hi"},
                {"external_id": "m-2", "role": "ai", "content": "hello"},
            ],
        }
        for n in (1, 2)
    ]
}


class Seed:
    """A small team whose objects generated path parameters can name."""

    def __init__(self, team: Team) -> None:
        self.team = team
        self.chatbot = chat_services.create_chatbot(team=team, slug="support", name="Support")
        ingest_traffic(team=team, batch=parse_batch(json.dumps(BATCH)))
        self.dataset = DatasetFactory(team=team, mode=Mode.SESSION, name="Seeded")
        DatasetFactory(team=team, mode=Mode.SESSION, name="Copies")
        # A running import keeps the dataset from deletion: DELETE answers 409.
        self.job = ImportJob.objects.create(dataset=self.dataset, params={"session_ids": []})
        self.evaluator = create_evaluator(
            team=team, name="Seeded", kind="contains", params={"words": ["thanks"]}
        )
        self.config = scenes.config(team, name="Seeded", dataset=self.dataset)
        # A running run keeps its config from deletion (409) until a generated cancel.
        self.run = scenes.run(self.config, rows=1, status=RunStatus.RUNNING)
        team_services.set_team_flag(team=team, name=flags.AUTO_POPULATE_DATASETS, active=True)
        self.rule = self.new_rule()

    def rule_id(self) -> int:
        # A generated DELETE may have removed it: the next case gets a fresh one.
        if not Rule.objects.filter(pk=self.rule.pk).exists():
            self.rule = self.new_rule()
        return self.rule.pk

    def new_rule(self) -> Rule:
        # Immediate and started in the past: a generated run takes the seeded sessions.
        return rule_services.create_rule(
            dataset=self.dataset,
            chatbot=self.chatbot,
            completion="immediate",
            start_at=timezone.now() - timedelta(hours=1),
        )

    def row_id(self) -> int:
        row = Row.objects.filter(dataset=self.dataset).first()
        return (row or RowFactory(dataset=self.dataset)).pk

    def path_parameters(self, names: list[str]) -> dict[str, Any]:
        values = {
            "slug": lambda: self.chatbot.slug,
            "external_id": lambda: "s-1",
            "dataset_id": lambda: self.dataset.pk,
            "row_id": self.row_id,
            "job_id": lambda: self.job.pk,
            "evaluator_id": lambda: self.evaluator.pk,
            "config_id": lambda: self.config.pk,
            "run_id": lambda: self.run.pk,
            "rule_id": self.rule_id,
        }
        return {name: values[name]() for name in names if name in values}


class Current:
    """The seed of the running test, which the path-parameter hook reads, and the run's start."""

    seed: Seed | None = None
    started: float | None = None


@pytest.fixture
def budget() -> None:
    Current.started = Current.started or time.monotonic()
    if time.monotonic() - Current.started > BUDGET_SECONDS:
        pytest.skip(f"the run's {BUDGET_SECONDS} s are spent")


@pytest.fixture
def seed(budget: None, db: None) -> Iterator[Seed]:
    owner = UserFactory(email="owner@seed.example")
    Current.seed = Seed(team_services.create_team(slug="seed", name="Seed", owner=owner))
    yield Current.seed
    Current.seed = None


@pytest.fixture
def in_process() -> Iterator[None]:
    """Keep the test's database connection open across requests, as Django's test client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def key(seed: Seed, in_process: None) -> str:
    return team_services.create_api_key(team=seed.team, name="fuzz", role=Role.EDITOR).plaintext


def seeded(names: list[str]) -> dict[str, Any]:
    assert Current.seed is not None
    return Current.seed.path_parameters(names)


CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        "suppress-health-check": ["all"],
    }
)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", WSGIHandler(), config=CONFIG)


@schema.hook
def flatmap_path_parameters(ctx: Any, parameters: dict[str, Any]) -> Any:
    # Half the cases name a seeded object, the rest whatever was generated.
    if not parameters:
        return st.just(parameters)
    real = st.builds(seeded, st.just(list(parameters)))
    return st.one_of(st.just(parameters), real.map(lambda found: {**parameters, **found}))


@schema.parametrize()
def test_the_api_answers_as_its_schema_says(case: schemathesis.Case, key: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {key}"})
