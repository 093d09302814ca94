"""Background import jobs: claimed once, run chunk by chunk, each chunk committed with progress."""

from __future__ import annotations

from datetime import timedelta

from django.db import reset_queries, transaction
from django.db.models import F
from django.utils import timezone

from evalloop.datasets import services
from evalloop.datasets.models import ImportJob, JobStatus, Origin
from evalloop.datasets.snapshots import Tally, session_id_chunks, snapshot_chunk
from evalloop.notifications.services import Kind, notify
from evalloop.teams.permissions import Action

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
    keep = services.sampler(selection.sample_rate)
    for ids in session_id_chunks(selection.sessions()):
        with transaction.atomic():
            services.lock_dataset(dataset)
            tally = snapshot_chunk(
                dataset=dataset, session_ids=ids, origin=Origin.IMPORT, keep=keep
            )
            _record_progress(job, tally)
        reset_queries()  # with DEBUG on, every bulk insert's SQL would stay in memory


def _record_progress(job: ImportJob, tally: Tally) -> None:
    ImportJob.objects.filter(pk=job.pk).update(
        processed=F("processed") + tally.sessions,
        rows_added=F("rows_added") + tally.added,
        skipped=F("skipped") + tally.skipped,
        sampled_out=F("sampled_out") + tally.sampled_out,
        updated_at=timezone.now(),
    )


@transaction.atomic
def _finish_job(job: ImportJob, *, status: str, error: str = "") -> None:
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
    if job.status == JobStatus.FAILED:
        return f"Import into {job.dataset.name} failed after {job.rows_added} rows."
    return (
        f"Import into {job.dataset.name} finished: {job.rows_added} rows added, "
        f"{job.skipped} already there."
    )
