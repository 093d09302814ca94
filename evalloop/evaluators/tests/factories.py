from __future__ import annotations

from typing import Any

import factory

from evalloop.evaluators import services
from evalloop.evaluators.models import Evaluator
from evalloop.runs.models import Config, Run, RunEvaluator, RunStatus, RunType
from evalloop.teams.tests.factories import TeamFactory

JUDGED = {"fields": [{"name": "score", "type": "number", "min": 0, "max": 1}]}


class EvaluatorFactory(factory.django.DjangoModelFactory[Evaluator]):
    """An evaluator made by the service, so it has its first version."""

    class Meta:
        model = Evaluator

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Evaluator {n}")
    kind = "contains"
    params = factory.LazyFunction(lambda: {"words": ["thanks"]})
    output_schema = None
    description = ""

    @classmethod
    def _create(cls, model_class: type[Evaluator], *args: Any, **kwargs: Any) -> Evaluator:
        return services.create_evaluator(**kwargs)


def unfinished_run(evaluator: Evaluator, dataset: Any) -> Run:
    """A pending run whose frozen plan holds the evaluator's current version."""
    config = Config.objects.create(
        team=evaluator.team, name=f"Uses {evaluator.name}", dataset=dataset
    )
    config.evaluators.add(evaluator)
    run = Run.objects.create(team=evaluator.team, config=config, type=RunType.FULL)
    assert evaluator.version is not None
    RunEvaluator.objects.create(run=run, version=evaluator.version, evaluator=evaluator, position=0)
    return run


def finish(run: Run) -> None:
    run.status = RunStatus.COMPLETED
    run.save(update_fields=["status"])
