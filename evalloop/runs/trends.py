"""A config's trend: each numeric or boolean field's aggregate per completed run over time.

One series per (evaluator version, field): a changed evaluator starts a new series, so a
score moved by an edit is never read as a change in quality. Full and delta runs count;
previews (a small random sample) do not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from evalloop.runs.models import Aggregate, Config, FieldType, RunStatus, RunType

MAX_DAYS = 366


@dataclass(frozen=True)
class Point:
    """One completed run's figure of one field."""

    run_id: int
    run_type: str
    finished_at: datetime
    value: float | None  # the mean of a number, the true rate of a boolean
    count: int


@dataclass
class Series:
    """One field of one evaluator version over time."""

    version_id: int
    name: str
    digest: str
    field: str
    field_type: str
    points: list[Point] = dataclasses.field(default_factory=list)


def config_trend(*, config: Config, days: int = 30) -> list[Series]:
    """The series of `config` over its completed full and delta runs of the last `days` days."""
    since = timezone.now() - timedelta(days=max(1, min(days, MAX_DAYS)))
    aggregates = (
        Aggregate.objects.filter(
            run__config=config,
            run__status=RunStatus.COMPLETED,
            run__type__in=[RunType.FULL, RunType.DELTA],
            run__finished_at__gte=since,
            field_type__in=[FieldType.NUMBER, FieldType.BOOLEAN],
        )
        .select_related("run", "version")
        .order_by("run__finished_at", "run_id", "id")
    )
    return collect(aggregates.iterator(chunk_size=2_000))


def collect(aggregates: Iterable[Aggregate]) -> list[Series]:
    """Aggregates (with their runs and versions, oldest run first) as a series per field."""
    series: dict[tuple[int, str], Series] = {}
    for aggregate in aggregates:
        key = (aggregate.version_id, aggregate.field)
        if key not in series:
            series[key] = _series(aggregate)
        series[key].points.append(_point(aggregate))
    return list(series.values())


def _series(aggregate: Aggregate) -> Series:
    version = aggregate.version
    return Series(
        version_id=version.pk,
        name=version.name,
        digest=version.digest,
        field=aggregate.field,
        field_type=aggregate.field_type,
    )


def _point(aggregate: Aggregate) -> Point:
    run = aggregate.run
    value = aggregate.mean if aggregate.field_type == FieldType.NUMBER else aggregate.true_rate
    assert run.finished_at is not None  # completed runs have finished
    return Point(
        run_id=run.pk,
        run_type=run.type,
        finished_at=run.finished_at,
        value=value,
        count=aggregate.count,
    )
