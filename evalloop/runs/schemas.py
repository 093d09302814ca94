"""Input and output models of the configs and runs API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from ninja import Schema
from pydantic import Field, StringConstraints

from evalloop.lib.inputs import Patch, Strict
from evalloop.runs import services
from evalloop.runs.aggregates import run_aggregates
from evalloop.runs.models import Aggregate, Config, Result, Run

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# The service's own limits, so that the OpenAPI document declares what is enforced.
RowCap = Annotated[int, Field(ge=1, le=services.MAX_DAILY_ROW_CAP)]
Minutes = Annotated[int, Field(ge=1, le=services.MAX_MINUTES_BETWEEN_RUNS)]
SampleSize = Annotated[int, Field(ge=1, le=services.MAX_SAMPLE_SIZE)]
EvaluatorIds = Annotated[list[int], Field(min_length=1, max_length=services.MAX_EVALUATORS)]


class ConfigIn(Strict):
    name: Name
    dataset: int
    evaluators: EvaluatorIds
    auto_run_on_append: bool = False
    daily_row_cap: RowCap | None = None
    min_minutes_between_runs: Minutes | None = None


class ConfigPatch(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"daily_row_cap", "min_minutes_between_runs"})

    name: Name | None = None
    dataset: int | None = None
    evaluators: EvaluatorIds | None = None
    auto_run_on_append: bool | None = None
    daily_row_cap: RowCap | None = None
    min_minutes_between_runs: Minutes | None = None


class EvaluatorRefOut(Schema):
    id: int
    name: str
    kind: str


class LastRunOut(Schema):
    id: int
    type: str
    status: str
    created_at: datetime
    finished_at: datetime | None


class ConfigOut(Schema):
    id: int
    name: str
    dataset: int
    evaluators: list[EvaluatorRefOut]
    auto_run_on_append: bool
    daily_row_cap: int | None
    min_minutes_between_runs: int | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_dataset(obj: Config) -> int:
        return obj.dataset_id

    @staticmethod
    def resolve_evaluators(obj: Config) -> list[Any]:
        return list(obj.evaluators.all())


class RunIn(Strict):
    """`delta` runs are made by auto-population rules, not through the API."""

    type: Literal["full", "preview"]
    sample_size: SampleSize | None = None


class ProgressOut(Schema):
    done: int
    total: int


class RunOut(Schema):
    id: int
    config: int
    type: str
    status: str
    scope_size: int
    trigger: str
    trigger_label: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: ProgressOut
    errors: int
    input_tokens: int
    output_tokens: int
    cost: Decimal | None
    error: str

    @staticmethod
    def resolve_config(obj: Run) -> int:
        return obj.config_id

    @staticmethod
    def resolve_progress(obj: Run) -> dict[str, int]:
        return {"done": obj.done, "total": obj.total}


class AggregateOut(Schema):
    evaluator_id: int | None
    evaluator_name: str
    evaluator_version: str
    version_id: int
    field: str
    field_type: str
    count: int
    errors: int
    mean: float | None
    median: float | None
    min: float | None
    max: float | None
    stddev: float | None
    true_count: int | None
    true_rate: float | None
    distribution: dict[str, int]

    @staticmethod
    def resolve_evaluator_id(obj: Aggregate) -> int | None:
        return obj.version.evaluator_id

    @staticmethod
    def resolve_evaluator_name(obj: Aggregate) -> str:
        return obj.version.name

    @staticmethod
    def resolve_evaluator_version(obj: Aggregate) -> str:
        return obj.version.digest

    @staticmethod
    def resolve_min(obj: Aggregate) -> float | None:
        return obj.minimum

    @staticmethod
    def resolve_max(obj: Aggregate) -> float | None:
        return obj.maximum


class RunDetailOut(RunOut):
    aggregates: list[AggregateOut]

    @staticmethod
    def resolve_aggregates(obj: Run) -> list[Aggregate]:
        return run_aggregates(obj)


class ResultOut(Schema):
    id: int
    row_id: int
    evaluator_id: int | None
    evaluator_version: str
    version_id: int
    output: dict[str, Any] | None
    error: str
    latency_ms: int
    input_tokens: int
    output_tokens: int
    cost: Decimal | None
    created_at: datetime

    @staticmethod
    def resolve_evaluator_id(obj: Result) -> int | None:
        return obj.version.evaluator_id

    @staticmethod
    def resolve_evaluator_version(obj: Result) -> str:
        return obj.version.digest

    @staticmethod
    def resolve_output(obj: Result) -> dict[str, Any] | None:
        return obj.output if isinstance(obj.output, dict) else None


class PointOut(Schema):
    run_id: int
    run_type: str
    finished_at: datetime
    value: float | None
    count: int


class SeriesOut(Schema):
    name: str
    evaluator_version: str
    version_id: int
    field: str
    field_type: str
    points: list[PointOut]

    @staticmethod
    def resolve_evaluator_version(obj: Any) -> str:
        digest: str = obj.digest
        return digest


class TrendOut(Schema):
    config: int
    days: int
    series: list[SeriesOut]
