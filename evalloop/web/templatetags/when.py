"""`{{ moment|ago }}`: how long ago, in words ("just now", "3 minutes ago").

Django's `timesince` says "0 minutes" for the last minute, which reads like a fault on pages
that refresh every few seconds. A built-in (config/settings.py), so no template loads it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()

JUST_NOW = timedelta(minutes=1)


@register.filter
def ago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    now = timezone.now()
    if now - moment < JUST_NOW:  # a moment a little ahead (clocks of two machines) too
        return "just now"
    return f"{timesince(moment, now)} ago"
