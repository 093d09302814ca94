"""Celery wrappers of the run engine; each takes ids and calls one engine function."""

from __future__ import annotations

from celery import shared_task

from evalloop.runs import aggregates, batches, coordinator


@shared_task
def coordinate() -> None:
    """The periodic pass: drive every unfinished run, finalize runs without aggregates."""
    coordinator.tick()


@shared_task
def drive_run(run_id: int) -> None:
    """Drive one run now: on its creation, and after each of its batches."""
    coordinator.drive_run(run_id=run_id)


@shared_task
def run_batch(batch_id: int) -> None:
    """Evaluate one claimed batch, then let the coordinator dispatch the next."""
    run_id = batches.run_batch(batch_id=batch_id)
    if run_id is not None:
        coordinator.kick(run_id)


@shared_task
def compute_aggregates(run_id: int) -> None:
    """Summarise a finished run's results, once it has ended."""
    aggregates.finalize(run_id=run_id)
