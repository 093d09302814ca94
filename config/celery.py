"""The Celery app and the one beat schedule of evalloop."""

from __future__ import annotations

import os
from datetime import timedelta

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("evalloop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "clear-expired-logins": {
        "task": "evalloop.web.tasks.clear_expired_logins",
        "schedule": timedelta(hours=6),
    },
}
