"""Evaluators with versions, configs and runs for the runs tests, and small fake kinds."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from evalloop.datasets.models import Dataset
from evalloop.datasets.tests.factories import RowFactory
from evalloop.evaluators.kinds.base import Outcome, RowData, Usage
from evalloop.evaluators.models import Evaluator, EvaluatorVersion
from evalloop.lib.inputs import Strict
from evalloop.runs import services
from evalloop.runs.models import Config, Run, RunType, Trigger
from evalloop.teams.models import Team

SCORE = {"fields": [{"name": "score", "type": "number"}]}
EVERY_TYPE = {
    "fields": [
        {"name": "score", "type": "number"},
        {"name": "passed", "type": "boolean"},
        {"name": "mood", "type": "category", "choices": ["short", "long"]},
        {"name": "note", "type": "text"},
    ]
}


class NoParams(Strict):
    pass


@dataclass
class FakeKind:
    """A kind whose answer per row is a function; it records the rows it was given."""

    name: str
    answer: Any
    seen: list[RowData] = field(default_factory=list)

    label: ClassVar[str] = "Fake"
    params_model: ClassVar[type[Strict]] = NoParams
    fixed_schema: ClassVar[dict[str, Any] | None] = None

    def problems(self, *, team: Any, params: Strict) -> list[tuple[tuple[str | int, ...], str]]:
        return []

    def evaluate_many(self, *, version: Any, rows: Sequence[RowData]) -> list[Outcome]:
        self.seen.extend(rows)
        return [self.answer(row) for row in rows]


def length(row: RowData) -> Outcome:
    return Outcome(output={"score": len(row["output"])}, usage=Usage(input_tokens=2))


def picky(row: RowData) -> Outcome:
    """An error for every row whose output says "bad"."""
    if "bad" in row["output"]:
        return Outcome(error="the judge refused")
    return Outcome(output={"score": len(row["output"])})


def every_type(row: RowData) -> Outcome:
    if "bad" in row["output"]:
        return Outcome(error="no answer")
    size = len(row["output"])
    mood = "short" if size < 3 else "long"
    return Outcome(output={"score": size, "passed": size % 2 == 0, "mood": mood, "note": "ok"})


def boom(row: RowData) -> Outcome:
    raise RuntimeError("the kind broke")


def sleepy(row: RowData) -> Outcome:
    time.sleep(0.05)
    return length(row)


ANSWERS = {
    "length": length,
    "picky": picky,
    "every_type": every_type,
    "boom": boom,
    "sleepy": sleepy,
}


def make_evaluator(
    team: Team, kind: str = "length", *, name: str = "", schema: dict[str, Any] | None = None
) -> Evaluator:
    evaluator = Evaluator.objects.create(
        team=team, name=name or kind, kind=kind, output_schema=schema or SCORE
    )
    new_version(evaluator)
    return evaluator


def new_version(evaluator: Evaluator, **params: Any) -> EvaluatorVersion:
    """Give `evaluator` new params and the version they make, as saving an edit does."""
    definition = {"kind": evaluator.kind, "params": params, "schema": evaluator.output_schema}
    digest = hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:12]
    version = EvaluatorVersion.objects.create(
        team=evaluator.team,
        evaluator=evaluator,
        name=evaluator.name,
        digest=digest,
        kind=evaluator.kind,
        params=params,
        output_schema=evaluator.output_schema,
    )
    evaluator.params = params
    evaluator.version = version
    evaluator.save()
    return version


def add_rows(dataset: Dataset, *outputs: str) -> list[int]:
    return [RowFactory(dataset=dataset, output=output).pk for output in outputs]


def make_config(
    dataset: Dataset, *evaluators: Evaluator, name: str = "Nightly", **options: Any
) -> Config:
    return services.create_config(
        team=dataset.team,
        name=name,
        dataset=dataset,
        evaluators=list(evaluators),
        **options,
    )


def start(config: Config, type: str = RunType.FULL, **options: Any) -> Run:
    return services.start_run(config=config, type=type, trigger=Trigger.USER, **options)


def finish(run: Run, sent: list[int]) -> Run:
    """Drive `run` to its end by coordinator passes, doing each dispatched batch in between."""
    from evalloop.runs import batches, coordinator

    for _ in range(10):
        coordinator.tick()
        while sent:
            batches.run_batch(batch_id=sent.pop(0))
    run.refresh_from_db()
    return run
