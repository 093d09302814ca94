"""A finished run's aggregates: per evaluator version and output field, computed in the database.

Numbers get count, mean, median, minimum, maximum and the population standard deviation;
booleans the count of true; categories the count per choice; text the count only. Error
results are counted apart, on every field of their version. Each figure is one query
(the median: a count and one or two ordered single-row reads), so memory stays flat
whatever the size of the run.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from django.db import transaction
from django.db.models import Avg, Count, FloatField, Max, Min, Q, QuerySet, StdDev
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast
from django.utils import timezone

from evalloop.evaluators.models import EvaluatorVersion
from evalloop.lib import busy
from evalloop.runs.models import UNFINISHED, Aggregate, FieldType, Result, Run


def finalize(*, run_id: int) -> None:
    """Compute the aggregates of a finished run, if it still exists and is still finished."""
    run = Run.objects.filter(pk=run_id).exclude(status__in=UNFINISHED).first()
    if run is not None:
        compute_aggregates(run=run)


def compute_aggregates(*, run: Run) -> None:
    """Replace the run's aggregates and mark it finalized: reads first, then one short write."""
    aggregates: list[Aggregate] = []
    for plan in run.plan_evaluators.select_related("version").order_by("position"):
        aggregates += _version_aggregates(run, plan.version)
    busy.retry_when_busy(partial(_store, run, aggregates))


def run_aggregates(run: Run) -> list[Aggregate]:
    """The run's aggregates in plan order, then output-schema order, with their versions."""
    return list(run.aggregates.select_related("version").order_by("id"))


@transaction.atomic
def _store(run: Run, aggregates: list[Aggregate]) -> None:
    # A run re-opened meanwhile (re-run of its failures) is finalized again when it ends.
    if not Run.objects.select_for_update().filter(pk=run.pk).exclude(status__in=UNFINISHED):
        return
    Aggregate.objects.filter(run=run).delete()
    Aggregate.objects.bulk_create(aggregates)
    Run.objects.filter(pk=run.pk).update(finalized_at=timezone.now())


def _version_aggregates(run: Run, version: EvaluatorVersion) -> list[Aggregate]:
    results = Result.objects.filter(run=run, version=version)
    errors = results.exclude(error="").count()
    ok = results.filter(error="")
    aggregates = []
    for field in version.output_schema.get("fields", []):
        aggregate = Aggregate(
            run=run, version=version, field=field["name"], field_type=field["type"], errors=errors
        )
        _FIGURES[field["type"]](aggregate, ok, field["name"])
        aggregates.append(aggregate)
    return aggregates


def _numbers(aggregate: Aggregate, ok: QuerySet[Result], name: str) -> None:
    number = Cast(KeyTextTransform(name, "output"), FloatField())
    values = ok.annotate(value=number).filter(value__isnull=False)
    figures = values.aggregate(
        count=Count("value"),
        mean=Avg("value"),
        minimum=Min("value"),
        maximum=Max("value"),
        stddev=StdDev("value"),
    )
    aggregate.count = figures["count"]
    aggregate.mean = figures["mean"]
    aggregate.minimum = figures["minimum"]
    aggregate.maximum = figures["maximum"]
    aggregate.stddev = figures["stddev"]
    aggregate.median = _median(values, number, figures["count"])


def _median(values: QuerySet[Result], number: Cast, count: int) -> float | None:
    if not count:
        return None
    ordered = values.order_by(number).values_list(number, flat=True)
    low = ordered[(count - 1) // 2]
    high = low if count % 2 else ordered[count // 2]
    return (float(low) + float(high)) / 2


def _booleans(aggregate: Aggregate, ok: QuerySet[Result], name: str) -> None:
    # Filtering on the alias compares with JSON true and false on every database.
    flags = ok.alias(flag=KeyTransform(name, "output"))
    figures = flags.aggregate(
        count=Count("pk", filter=Q(flag=True) | Q(flag=False)),
        true_count=Count("pk", filter=Q(flag=True)),
    )
    aggregate.count = figures["count"]
    aggregate.true_count = figures["true_count"]


def _categories(aggregate: Aggregate, ok: QuerySet[Result], name: str) -> None:
    counts = (
        ok.annotate(value=KeyTextTransform(name, "output"))
        .filter(value__isnull=False)
        .values("value")
        .annotate(n=Count("pk"))
        .order_by("-n", "value")
    )
    aggregate.distribution = {str(item["value"]): item["n"] for item in counts}
    aggregate.count = sum(aggregate.distribution.values())


def _texts(aggregate: Aggregate, ok: QuerySet[Result], name: str) -> None:
    aggregate.count = (
        ok.annotate(value=KeyTextTransform(name, "output")).filter(value__isnull=False).count()
    )


_FIGURES: dict[str, Callable[[Aggregate, QuerySet[Result], str], None]] = {
    FieldType.NUMBER: _numbers,
    FieldType.BOOLEAN: _booleans,
    FieldType.CATEGORY: _categories,
    FieldType.TEXT: _texts,
}
