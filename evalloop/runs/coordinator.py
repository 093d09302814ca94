"""The run coordinator: drives every unfinished run from the database alone.

A pass over a run, in one short transaction, re-opens batches whose lease expired (counting
a stall when the run made no progress meanwhile, failing it past the limit), completes the
run when no batch is left, or claims waiting batches up to the bounds in flight. The claimed
batches are dispatched after the commit. Nothing lives in memory between passes: a pass
after a crash, on any process, picks up where the database says the run is.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.template.defaultfilters import pluralize
from django.utils import timezone

from evalloop.lib import busy
from evalloop.notifications.services import Kind, notify
from evalloop.runs.models import (
    UNFINISHED,
    Batch,
    BatchStatus,
    Result,
    Run,
    RunStatus,
    RunType,
)
from evalloop.teams.permissions import Action

logger = logging.getLogger(__name__)

# A run that finished this long ago without aggregates lost its finalizing task.
FINALIZE_GRACE = timedelta(minutes=1)
# Runs a sweep re-finalizes per pass (the next pass takes the rest).
FINISHED = [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED]
SWEEP_LIMIT = 100

# Kicks sent from inside a pass are absorbed by it: with tasks run in-process, a batch
# dispatched by a pass ends before the pass goes on, and the pass dispatches the next one.
_local = threading.local()


def tick() -> None:
    """One periodic pass: drive every unfinished run, then sweep runs without aggregates."""
    run_ids = list(Run.objects.unfinished().order_by("pk").values_list("pk", flat=True))
    for run_id in run_ids:
        drive_run(run_id=run_id, wait=False)
    sweep()


def drive_run(*, run_id: int, wait: bool = True) -> None:
    """Advance one run as far as it can go now; an error is recorded on the run, not raised.

    `wait=False` (the periodic pass) skips a run another process holds; a kick waits for it.
    """
    _local.driving = True
    try:
        while claimed := busy.retry_when_busy(partial(_advance, run_id, wait)):
            dispatch(claimed)
    except Exception as exc:
        logger.exception("The coordinator failed on run %s.", run_id)
        _record_error(run_id, exc)
    finally:
        _local.driving = False


def dispatch(batch_ids: list[int]) -> None:
    """Send a task per claimed batch (tests replace this to step through a run)."""
    from evalloop.runs import tasks  # tasks call the coordinator

    for batch_id in batch_ids:
        tasks.run_batch.delay(batch_id)


def kick(run_id: int) -> None:
    """Drive a run again soon (after one of its batches ended)."""
    if getattr(_local, "driving", False):
        return
    from evalloop.runs import tasks

    tasks.drive_run.delay(run_id)


# One pass over one run


@transaction.atomic
def _advance(run_id: int, wait: bool) -> list[int]:
    """Expire, complete or claim, in one transaction; answer the batches claimed."""
    run = _lock_run(run_id, wait=wait)
    if run is None:
        return []
    now = timezone.now()
    if _expire_leases(run, now):
        return []
    if not run.batches.exclude(status=BatchStatus.DONE).exists():
        _complete(run, now)
        return []
    claimed = _claim(run, now)
    if claimed and run.status == RunStatus.PENDING:
        run.status = RunStatus.RUNNING
        run.started_at = run.started_at or now
        run.last_progress_at = now
        run.save(update_fields=["status", "started_at", "last_progress_at"])
    return claimed


def _lock_run(run_id: int, *, wait: bool) -> Run | None:
    """The unfinished run, locked for this transaction; None when finished, gone or taken."""
    runs = Run.objects.filter(pk=run_id, status__in=UNFINISHED).select_related("config")
    # PostgreSQL: SKIP LOCKED lets concurrent periodic passes share the runs instead of
    # queueing on each other; batch writers lock the run too, briefly, so a kick waits.
    # SQLite ignores row locks: there every transaction takes the one write lock at BEGIN
    # (IMMEDIATE), so a pass and a writer never overlap and the conditional UPDATEs below
    # need no row lock.
    if connection.features.has_select_for_update_skip_locked and not wait:
        return runs.select_for_update(skip_locked=True, of=("self",)).first()
    return runs.select_for_update(of=("self",)).first()


def _expire_leases(run: Run, now: datetime) -> bool:
    """Re-open batches whose lease ran out; fail the run past the stall limit (answer True)."""
    expired = list(run.batches.filter(status=BatchStatus.RUNNING, lease_expires_at__lt=now))
    if not expired:
        return False
    limit: int = settings.EVALLOOP_RUN_STALL_LIMIT
    lease = timedelta(seconds=settings.EVALLOOP_RUN_LEASE_SECONDS)
    if run.last_progress_at is None or run.last_progress_at < now - lease:
        run.stalls += 1
        if run.stalls >= limit:
            _fail(run, now, _stall_reason(run, lease))
            return True
        run.save(update_fields=["stalls"])
    # A batch that keeps losing its lease while others progress fails the run all the same.
    worn = next((batch for batch in expired if batch.attempts >= limit), None)
    if worn is not None:
        _fail(run, now, _worn_reason(worn))
        return True
    run.batches.filter(pk__in=[batch.pk for batch in expired]).update(
        status=BatchStatus.PENDING, lease_expires_at=None, updated_at=now
    )
    return False


def _worn_reason(batch: Batch) -> str:
    return (
        f"Rows {batch.first_position + 1} to {batch.last_position + 1} of the plan were "
        f"dispatched {batch.attempts} times and never finished (a worker crashing or "
        "running out of time on them?)."
    )


def _stall_reason(run: Run, lease: timedelta) -> str:
    minutes = lease.total_seconds() / 60
    return (
        f"No progress in {run.stalls} periods of {minutes:g} minutes: batches were "
        "dispatched but no result came back. Are the workers running?"
    )


def _claim(run: Run, now: datetime) -> list[int]:
    """Mark up to the free room of waiting batches dispatched, with a lease; answer their ids."""
    room = _room(run)
    if room <= 0:
        return []
    waiting = run.batches.filter(status=BatchStatus.PENDING).order_by("first_position")
    if connection.features.has_select_for_update_skip_locked:
        waiting = waiting.select_for_update(skip_locked=True)
    picked = list(waiting.values_list("pk", flat=True)[:room])
    # The conditional UPDATE is the claim: only a batch still waiting changes hands.
    claimed = []
    lease = timedelta(seconds=settings.EVALLOOP_RUN_LEASE_SECONDS)
    for batch_id in picked:
        if Batch.objects.filter(pk=batch_id, status=BatchStatus.PENDING).update(
            status=BatchStatus.RUNNING,
            attempts=F("attempts") + 1,
            lease_expires_at=now + lease,
            updated_at=now,
        ):
            claimed.append(batch_id)
    return claimed


def _room(run: Run) -> int:
    in_run = run.batches.filter(status=BatchStatus.RUNNING).count()
    overall = Batch.objects.filter(status=BatchStatus.RUNNING, run__status__in=UNFINISHED).count()
    per_run: int = settings.EVALLOOP_RUN_BATCHES_PER_RUN
    in_flight: int = settings.EVALLOOP_RUN_BATCHES_IN_FLIGHT
    return min(per_run - in_run, in_flight - overall)


# Endings


def _complete(run: Run, now: datetime) -> None:
    counts = Result.objects.filter(run=run).aggregate(
        done=Count("pk"), errors=Count("pk", filter=~Q(error=""))
    )
    run.status = RunStatus.COMPLETED
    run.done, run.errors = counts["done"], counts["errors"]
    run.started_at = run.started_at or now
    run.finished_at = now
    run.error = ""
    run.save(update_fields=["status", "done", "errors", "started_at", "finished_at", "error"])
    if run.type == RunType.FULL:  # previews are watched; delta runs come too often to tell
        tally = f"{run.done} result{pluralize(run.done)}, {run.errors} error{pluralize(run.errors)}"
        _tell(run, Kind.INFO, f"{_name(run)} completed: {tally}.")
    _finalize_on_commit(run)


def _fail(run: Run, now: datetime, reason: str) -> None:
    run.status = RunStatus.FAILED
    run.error = reason
    run.finished_at = now
    run.save(update_fields=["status", "error", "stalls", "finished_at"])
    _tell(run, Kind.RUN_FAILED, f"{_name(run)} failed.", body=reason)
    _finalize_on_commit(run)


def _name(run: Run) -> str:
    return f"The {run.get_type_display().lower()} run #{run.pk} of {run.config.name}"


def _tell(run: Run, kind: str, title: str, body: str = "") -> None:
    notify(
        team=run.config.team,
        action=Action.EDIT,
        kind=kind,
        title=title[:200],
        body=body,
        url=f"/runs/{run.pk}/",
    )


def _finalize_on_commit(run: Run) -> None:
    from evalloop.runs import tasks

    transaction.on_commit(partial(tasks.compute_aggregates.delay, run.pk))


def _record_error(run_id: int, exc: Exception) -> None:
    """Count a pass that failed as a stall, so a run that always fails a pass ends failed."""
    reason = f"The coordinator met an error: {type(exc).__name__}: {exc}"[:2000]
    try:
        busy.retry_when_busy(partial(_count_error, run_id, reason))
    except Exception:
        logger.exception("Could not record the coordinator's error on run %s.", run_id)


@transaction.atomic
def _count_error(run_id: int, reason: str) -> None:
    run = _lock_run(run_id, wait=True)
    if run is None:
        return
    run.stalls += 1
    if run.stalls >= settings.EVALLOOP_RUN_STALL_LIMIT:
        _fail(run, timezone.now(), reason)
        return
    run.error = reason
    run.save(update_fields=["stalls", "error"])


# The sweep


def sweep() -> None:
    """Enqueue aggregates of finished runs that lack them (their task was lost)."""
    from evalloop.runs import tasks

    lost = Run.objects.filter(
        status__in=FINISHED,
        finalized_at__isnull=True,
        finished_at__lt=timezone.now() - FINALIZE_GRACE,
    )
    for run_id in lost.order_by("pk").values_list("pk", flat=True)[:SWEEP_LIMIT]:
        tasks.compute_aggregates.delay(run_id)
