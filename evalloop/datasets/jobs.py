"""Background import jobs: claimed once, run chunk by chunk, each chunk committed with progress."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from django.db import reset_queries, transaction
from django.db.models import F
from django.template.defaultfilters import pluralize
from django.utils import timezone

from evalloop.datasets import services
from evalloop.datasets.models import ImportJob, JobStatus, Origin, Row
from evalloop.datasets.snapshots import Keep, Tally, add_new_rows, build_rows, session_id_chunks
from evalloop.lib import busy
from evalloop.notifications.services import Kind, notify
from evalloop.teams.permissions import Action

# Rows written per transaction, however long the sessions: a few tens of milliseconds on
# SQLite, where a transaction holds the one write lock and traffic waits for it.
ROWS_PER_TRANSACTION = 250
# A running job whose heartbeat is older than this lost its worker and may be claimed again.
STALE_JOB_MINUTES = 10


def claim_job(*, job_id: int) -> ImportJob | None:
    """Mark a waiting (or abandoned) job running and answer it; None if another has it."""
    now = timezone.now()
    stale = now - timedelta(minutes=STALE_JOB_MINUTES)
    # A conditional UPDATE is the claim: of two deliveries of the same task only one wins.
    claimable = ImportJob.objects.filter(
        pk=job_id, status__in=[JobStatus.PENDING, JobStatus.RUNNING]
    )
    claimable = claimable.exclude(status=JobStatus.RUNNING, updated_at__gte=stale)
    if not claimable.update(status=JobStatus.RUNNING, processed=0, updated_at=now):
        return None
    return ImportJob.objects.select_related("dataset__team").get(pk=job_id)


def run_import_job(*, job_id: int) -> ImportJob | None:
    """Do a claimed job chunk by chunk; each chunk commits with its progress."""
    job = claim_job(job_id=job_id)
    if job is None:
        return None
    try:
        _run_chunks(job)
    except Exception as exc:
        _finish_job(job, status=JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    _finish_job(job, status=JobStatus.DONE)
    return job


def _run_chunks(job: ImportJob) -> None:
    dataset = job.dataset
    selection = services.selection_from_params(dataset.team, job.params)
    keep = services.sampler(selection)
    for ids in session_id_chunks(selection.sessions()):
        # Built outside any transaction: on SQLite a transaction holds the one write lock,
        # so it only writes, at most ROWS_PER_TRANSACTION rows, and traffic gets in between.
        candidates = build_rows(dataset=dataset, session_ids=ids, origin=Origin.IMPORT)
        pieces = _pieces(candidates)
        for number, piece in enumerate(pieces, start=1):
            sessions = len(ids) if number == len(pieces) else 0
            busy.bulk_step(partial(_write_piece, job, piece, keep, sessions))
        reset_queries()  # with DEBUG on, every bulk insert's SQL would stay in memory


def _pieces(rows: list[Row]) -> list[list[Row]]:
    """`rows` in pieces of at most ROWS_PER_TRANSACTION; one empty piece when there are none."""
    return [
        rows[i : i + ROWS_PER_TRANSACTION] for i in range(0, len(rows), ROWS_PER_TRANSACTION)
    ] or [[]]


def _write_piece(job: ImportJob, rows: list[Row], keep: Keep | None, sessions: int) -> None:
    with transaction.atomic():
        services.lock_dataset(job.dataset)
        tally = add_new_rows(dataset=job.dataset, candidates=rows, keep=keep)
        tally.sessions = sessions
        _record_progress(job, tally)


def _record_progress(job: ImportJob, tally: Tally) -> None:
    ImportJob.objects.filter(pk=job.pk).update(
        processed=F("processed") + tally.sessions,
        rows_added=F("rows_added") + tally.added,
        skipped=F("skipped") + tally.skipped,
        sampled_out=F("sampled_out") + tally.sampled_out,
        updated_at=timezone.now(),
    )


def _finish_job(job: ImportJob, *, status: str, error: str = "") -> None:
    busy.retry_when_busy(partial(_record_finish, job, status=status, error=error))


@transaction.atomic
def _record_finish(job: ImportJob, *, status: str, error: str = "") -> None:
    now = timezone.now()
    ImportJob.objects.filter(pk=job.pk).update(
        status=status, error=error[:2000], finished_at=now, updated_at=now
    )
    job.refresh_from_db()
    notify(
        team=job.dataset.team,
        action=Action.EDIT,
        kind=Kind.IMPORT_FINISHED,
        title=_job_title(job),
        body=error,
        url=f"/datasets/{job.dataset_id}/",
    )


def _job_title(job: ImportJob) -> str:
    rows = f"{job.rows_added} row{pluralize(job.rows_added)}"
    if job.status == JobStatus.FAILED:
        return f"Import into {job.dataset.name} failed after {rows}."
    return f"Import into {job.dataset.name} finished: {rows} added, {job.skipped} already there."
