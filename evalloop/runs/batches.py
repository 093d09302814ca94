"""The work of one batch: evaluate its rows' missing pairs, write them with the run's counts.

A batch may be delivered twice (a lease that expired on a slow worker, a redelivered task):
it skips the pairs that have a result, and every write first locks the run, so two
deliveries never write the same pair nor count it twice. Writes are one short transaction
per evaluator version that took a while (one per batch for quick ones), so a batch
killed half-way keeps what it wrote.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import reset_queries, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from evalloop.evaluators import engine
from evalloop.evaluators.kinds.base import Outcome, RowData
from evalloop.evaluators.models import EvaluatorVersion
from evalloop.lib import busy
from evalloop.runs.models import UNFINISHED, Batch, BatchStatus, Result, Run, RunEvaluator, RunRow

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 2_000
# Results wait at most this long (after an evaluator finishes) before they are written.
FLUSH_SECONDS = 1.0


@dataclass(frozen=True)
class Work:
    """What a batch evaluates: its plan rows (id and data, in position order) and versions."""

    batch: Batch
    row_ids: list[int]
    rows: dict[int, RowData]
    versions: list[EvaluatorVersion]


def run_batch(*, batch_id: int) -> int | None:
    """Evaluate a dispatched batch; answer its run's id, or None when there was nothing to do."""
    work = _load(batch_id)
    if work is None:
        return None
    present = _present(work.batch.run_id, work.row_ids) if work.batch.has_results else set()
    pending: list[Result] = []
    flushed = time.monotonic()
    for version in work.versions:
        todo = [row_id for row_id in work.row_ids if (row_id, version.pk) not in present]
        pending += _evaluate(work, version, todo) if todo else []
        # Quick evaluators write once per batch (a commit costs more than their work);
        # slow ones write as they go, so progress shows and the lease is renewed.
        if pending and time.monotonic() - flushed >= FLUSH_SECONDS:
            if not busy.bulk_step(partial(_write, work.batch, pending)):
                _set_aside(batch_id)
                return None
            pending, flushed = [], time.monotonic()
    if pending and not busy.bulk_step(partial(_write, work.batch, pending)):
        _set_aside(batch_id)
        return None
    Batch.objects.filter(pk=batch_id).update(status=BatchStatus.DONE, updated_at=timezone.now())
    reset_queries()  # with DEBUG on, every query of a long run would stay in memory
    return work.batch.run_id


def _set_aside(batch_id: int) -> None:
    """The run ended meanwhile (cancelled, failed): the batch waits again, with no lease."""
    Batch.objects.filter(pk=batch_id, status=BatchStatus.RUNNING).update(
        status=BatchStatus.PENDING, lease_expires_at=None, updated_at=timezone.now()
    )


def _load(batch_id: int) -> Work | None:
    batch = (
        Batch.objects.filter(pk=batch_id, status=BatchStatus.RUNNING).select_related("run").first()
    )
    if batch is None:
        return None
    if batch.run.status not in UNFINISHED:
        _set_aside(batch_id)
        return None
    plan_rows = RunRow.objects.filter(
        run_id=batch.run_id, position__range=(batch.first_position, batch.last_position)
    ).select_related("row")
    rows = {plan_row.row_id: engine.row_data(plan_row.row) for plan_row in plan_rows}
    versions = [
        plan.version
        for plan in RunEvaluator.objects.filter(run_id=batch.run_id).select_related("version")
    ]
    return Work(batch=batch, row_ids=list(rows), rows=rows, versions=versions)


def _evaluate(work: Work, version: EvaluatorVersion, todo: list[int]) -> list[Result]:
    outcomes = evaluate(version, [work.rows[row_id] for row_id in todo])
    pairs = zip(todo, outcomes, strict=True)
    return [_result(work.batch, version, row_id, outcome) for row_id, outcome in pairs]


def evaluate(version: EvaluatorVersion, rows: Sequence[RowData]) -> list[Outcome]:
    """One outcome per row; a kind that raises or miscounts makes every row an error."""
    try:
        outcomes = engine.evaluate_rows(version, rows)
    except Exception as exc:
        logger.exception("Evaluator version %s raised on a batch.", version.pk)
        return [Outcome(error=f"The evaluator failed: {type(exc).__name__}: {exc}")] * len(rows)
    if len(outcomes) != len(rows):
        error = f"The evaluator answered {len(outcomes)} outcomes for {len(rows)} rows."
        return [Outcome(error=error)] * len(rows)
    return outcomes


def _result(batch: Batch, version: EvaluatorVersion, row_id: int, outcome: Outcome) -> Result:
    usage = outcome.usage
    return Result(
        run_id=batch.run_id,
        row_id=row_id,
        version=version,
        output=None if outcome.error else outcome.output,
        error=outcome.error[:MAX_ERROR_CHARS],
        input_tokens=usage.input_tokens if usage else 0,
        output_tokens=usage.output_tokens if usage else 0,
        cost=usage.cost if usage else None,
        latency_ms=max(0, outcome.latency_ms),
    )


@transaction.atomic
def _write(batch: Batch, results: list[Result]) -> bool:
    """Insert the results still missing and count them on the run; False if it has ended."""
    # Every writer of a run's results locks the run first: the pairs read below cannot be
    # written by another delivery before this one commits, so what is inserted is exactly
    # what is counted. The unique constraint stays the last word.
    run = Run.objects.select_for_update().filter(pk=batch.run_id, status__in=UNFINISHED).first()
    if run is None:
        return False
    has_results = Batch.objects.filter(pk=batch.pk).values_list("has_results", flat=True)
    present = _present(run.pk, [result.row_id for result in results]) if has_results[0] else set()
    missing = [result for result in results if (result.row_id, result.version_id) not in present]
    Result.objects.bulk_create(missing, ignore_conflicts=True)
    now = timezone.now()
    _count(run, missing, now)
    Batch.objects.filter(pk=batch.pk, has_results=False).update(has_results=True)
    lease = timedelta(seconds=settings.EVALLOOP_RUN_LEASE_SECONDS)
    Batch.objects.filter(pk=batch.pk, status=BatchStatus.RUNNING).update(
        lease_expires_at=now + lease, updated_at=now
    )
    return True


def _present(run_id: int, row_ids: list[int]) -> set[tuple[int, int]]:
    """The (row, version) pairs of these rows that have a result in the run."""
    pairs = Result.objects.filter(run_id=run_id, row_id__in=set(row_ids)).order_by()
    return set(pairs.values_list("row_id", "version_id"))


def _count(run: Run, results: list[Result], now: datetime) -> None:
    costs = [result.cost for result in results if result.cost is not None]
    changes = {
        "done": F("done") + len(results),
        "errors": F("errors") + sum(1 for result in results if result.error),
        "input_tokens": F("input_tokens") + sum(result.input_tokens for result in results),
        "output_tokens": F("output_tokens") + sum(result.output_tokens for result in results),
        "last_progress_at": now,
        "stalls": 0,
    }
    if costs:
        changes["cost"] = Coalesce(F("cost"), Decimal(0)) + sum(costs, Decimal(0))
    Run.objects.filter(pk=run.pk).update(**changes)
