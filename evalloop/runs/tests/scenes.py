"""Builders of the objects the runs pages and endpoints show, written straight to the models."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.utils import timezone

from evalloop.datasets.models import Dataset, Row
from evalloop.datasets.tests.factories import DatasetFactory, RowFactory
from evalloop.evaluators.models import Evaluator, EvaluatorVersion
from evalloop.runs.models import (
    Aggregate,
    Config,
    Result,
    Run,
    RunEvaluator,
    RunRow,
    RunStatus,
    RunType,
)
from evalloop.teams.models import Team

SCORE_AND_OK = (("score", "number"), ("ok", "boolean"))


def schema(fields: Sequence[tuple[str, str]]) -> dict[str, Any]:
    out = []
    for name, kind in fields:
        field: dict[str, Any] = {"name": name, "type": kind}
        if kind == "category":
            field["choices"] = ["good", "bad"]
        out.append(field)
    return {"fields": out}


def version_of(evaluator: Evaluator, digest: str) -> EvaluatorVersion:
    """Give `evaluator` a new current version named by `digest`."""
    version = EvaluatorVersion.objects.create(
        team=evaluator.team,
        evaluator=evaluator,
        name=evaluator.name,
        digest=digest,
        kind=evaluator.kind,
        params=evaluator.params,
        output_schema=evaluator.output_schema,
    )
    evaluator.version = version
    evaluator.save(update_fields=["version"])
    return version


def evaluator(
    team: Team, name: str = "Judge", fields: Sequence[tuple[str, str]] = SCORE_AND_OK
) -> Evaluator:
    made = Evaluator.objects.create(
        team=team, name=name, kind="contains", params={}, output_schema=schema(fields)
    )
    version_of(made, f"{name.lower()[:8]}01")
    return made


def config(
    team: Team,
    *,
    name: str = "Quality",
    dataset: Dataset | None = None,
    evaluators: Sequence[Evaluator] = (),
    **fields: Any,
) -> Config:
    made = Config.objects.create(
        team=team, name=name, dataset=dataset or DatasetFactory(team=team), **fields
    )
    made.evaluators.set(evaluators or [evaluator(team, name=f"{name} judge")])
    return made


def run(
    cfg: Config,
    *,
    rows: int | Sequence[Row] = 2,
    status: str = RunStatus.COMPLETED,
    type: str = RunType.FULL,
    finished_at: datetime | None = None,
) -> Run:
    """A run of `cfg` over `rows` (made in its dataset when a number) and its evaluators."""
    plan_rows = (
        RowFactory.create_batch(rows, dataset=cfg.dataset) if isinstance(rows, int) else rows
    )
    versions = [each.version for each in cfg.evaluators.order_by("name") if each.version]
    finished = status not in (RunStatus.PENDING, RunStatus.RUNNING)
    now = timezone.now()
    made = Run.objects.create(
        team=cfg.team,
        config=cfg,
        type=type,
        status=status,
        scope_size=len(plan_rows),
        total=len(plan_rows) * len(versions),
        started_at=now,
        finished_at=(finished_at or now) if finished else None,
        finalized_at=(finished_at or now) if finished else None,
    )
    RunRow.objects.bulk_create(
        RunRow(run=made, row=row, position=i) for i, row in enumerate(plan_rows)
    )
    RunEvaluator.objects.bulk_create(
        RunEvaluator(run=made, version=v, evaluator=v.evaluator, position=i)
        for i, v in enumerate(versions)
    )
    return made


def result(
    made: Run, row: Row, version: EvaluatorVersion, output: Any = None, error: str = ""
) -> Result:
    stored = Result.objects.create(run=made, row=row, version=version, output=output, error=error)
    Run.objects.filter(pk=made.pk).update(done=made.results.count(), errors=errors_of(made))
    return stored


def errors_of(made: Run) -> int:
    return made.results.exclude(error="").count()


def aggregate(
    made: Run, version: EvaluatorVersion, field: str, kind: str, **values: Any
) -> Aggregate:
    return Aggregate.objects.create(
        run=made, version=version, field=field, field_type=kind, **values
    )


def plan(made: Run) -> tuple[list[Row], list[EvaluatorVersion]]:
    rows = [each.row for each in made.plan_rows.select_related("row").order_by("position")]
    versions = [each.version for each in made.plan_evaluators.select_related("version")]
    return rows, versions
