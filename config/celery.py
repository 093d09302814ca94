"""The Celery app and the one beat schedule of evalloop."""

from __future__ import annotations

import os
from datetime import timedelta

from celery import Celery
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("evalloop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "clear-expired-logins": {
        "task": "evalloop.web.tasks.clear_expired_logins",
        "schedule": timedelta(hours=6),
    },
    "auto-populate": {
        "task": "evalloop.autopopulate.tasks.tick",
        "schedule": timedelta(seconds=settings.EVALLOOP_TICK_SECONDS),
        # A tick missed while workers were busy is replaced by the next, never queued up.
        "options": {"expires": settings.EVALLOOP_TICK_SECONDS},
    },
    "auto-populate-sweep": {
        "task": "evalloop.autopopulate.tasks.sweep",
        "schedule": timedelta(seconds=settings.EVALLOOP_SWEEP_SECONDS),
        "options": {"expires": settings.EVALLOOP_SWEEP_SECONDS},
    },
    "coordinate-runs": {
        "task": "evalloop.runs.tasks.coordinate",
        "schedule": timedelta(seconds=settings.EVALLOOP_COORDINATOR_SECONDS),
        # A pass missed while workers were busy is replaced by the next, never queued up.
        "options": {"expires": settings.EVALLOOP_COORDINATOR_SECONDS},
    },
}


def worker_options(*, embedded_broker: bool) -> list[str]:
    """Answer the `celery worker` options the broker needs."""
    if not embedded_broker:
        return []
    # The file-system broker keeps exchange bindings in files that outlive their consumers.
    # Mingle and gossip need every worker to hear every other (Celery skips them on this
    # transport anyway; saying so keeps it true if that changes), and heartbeats only feed
    # gossip and monitors, whose leftover bindings would collect unread files forever.
    # Remote control works here (`celery inspect ping`), so it stays on.
    return ["--without-mingle", "--without-gossip", "--without-heartbeat"]
