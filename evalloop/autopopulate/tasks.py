"""Celery wrappers of the tick; each calls one engine function."""

from __future__ import annotations

from celery import shared_task

from evalloop.autopopulate import kicks
from evalloop.autopopulate import tick as engine


@shared_task
def tick() -> None:
    """The periodic tick: every enabled rule, then delta runs whose interval has passed."""
    engine.tick()


@shared_task
def kick(rule_id: int, attempt: int = 0) -> None:
    """One rule's tick, soon after a write that may have completed its sources."""
    kicks.run_kick(rule_id=rule_id, attempt=attempt)


@shared_task
def sweep() -> None:
    """The hourly backstop: each rule's window behind its watermark, for missed sources."""
    engine.sweep()
