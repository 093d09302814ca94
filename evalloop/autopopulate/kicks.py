"""Kicks: a rule's tick, moments after committed traffic may have completed its sources.

A write to the traffic store announces, once committed, the chatbots whose sessions it
changed (`evalloop.chat.signals.traffic_changed`). Each enabled rule watching one of them, in
a team with auto-population on, gets a tick of its own a short delay later
(`EVALLOOP_TICK_KICK_DELAY_SECONDS`), so that one tick takes a whole burst of writes.

At most one kick per rule is pending, across every process: `Rule.kick_due_at` marks it, set
by a conditional UPDATE that only one of several racing writers wins. The kicked task clears
the mark before it ticks, so a write that commits during the tick kicks again. Kicks fail
soft: with the broker away the write stands (a warning is logged), the mark lapses after
KICK_GRACE, and the periodic tick, the backstop, takes the sources.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from evalloop.autopopulate.models import Rule
from evalloop.autopopulate.tick import Summary, tick_rule
from evalloop.teams import flags
from evalloop.teams.models import Team

logger = logging.getLogger(__name__)

# A mark this long past its due time belongs to a kick that was lost (a worker died with it,
# or the broker refused it): the next write may kick again.
KICK_GRACE = timedelta(minutes=1)
# A kicked tick that finds the rule held by another tick, which may have read the window
# before the kicking write committed, kicks again this many times; then the periodic tick.
RETRIES = 1


class Breaker:
    """After a kick the broker refused, this process sends none for a while.

    Reaching a broker that is away costs seconds (the connection timeout), inside the write
    that kicks; without this, every write would pay it again, once per rule it kicks. The
    periodic tick takes the sources meanwhile.
    """

    def __init__(self) -> None:
        self.closed_until = 0.0

    def is_open(self) -> bool:
        return time.monotonic() >= self.closed_until

    def trip(self) -> None:
        self.closed_until = time.monotonic() + KICK_GRACE.total_seconds()

    def reset(self) -> None:
        self.closed_until = 0.0


breaker = Breaker()


def traffic_changed(*, team_id: int, chatbot_ids: Iterable[int], **_: Any) -> None:
    """Kick the enabled rules watching `chatbot_ids` (the receiver of `traffic_changed`)."""
    now = timezone.now()
    # One query on the chatbot index; a chatbot no rule watches costs nothing more.
    rules = Rule.objects.filter(chatbot_id__in=chatbot_ids, enabled=True)
    due = [pk for pk, at in rules.values_list("id", "kick_due_at") if not _pending(at, now)]
    if due and flags.is_active(Team(pk=team_id), flags.AUTO_POPULATE_DATASETS):
        for rule_id in due:
            kick(rule_id=rule_id, now=now)


def _pending(due_at: datetime | None, now: datetime) -> bool:
    return due_at is not None and due_at >= now - KICK_GRACE


def kick(*, rule_id: int, now: datetime | None = None, attempt: int = 0) -> bool:
    """Schedule a tick of the rule unless one is pending; answer whether this call did."""
    from evalloop.autopopulate import tasks  # the task calls back into this module

    now = now or timezone.now()
    if not breaker.is_open():
        return False
    delay: float = settings.EVALLOOP_TICK_KICK_DELAY_SECONDS
    # Conditional: of the writers racing to kick one rule, exactly one changes the row.
    lapsed = Q(kick_due_at__isnull=True) | Q(kick_due_at__lt=now - KICK_GRACE)
    marked = Rule.objects.filter(lapsed, pk=rule_id, enabled=True).update(
        kick_due_at=now + timedelta(seconds=delay)
    )
    if not marked:
        return False
    try:
        tasks.kick.apply_async((rule_id, attempt), countdown=delay, retry=False)
    except Exception:  # the broker is away; the mark lapses, and the periodic tick goes on
        breaker.trip()
        logger.warning(
            "Could not kick the tick of rule %s; no kicks for %s s.",
            rule_id,
            int(KICK_GRACE.total_seconds()),
            exc_info=True,
        )
        return False
    return True


def run_kick(*, rule_id: int, attempt: int = 0) -> Summary | None:
    """The kicked tick of one rule; None when it did not run."""
    # Cleared before the tick reads anything, so a write committing from now on kicks again.
    Rule.objects.filter(pk=rule_id).update(kick_due_at=None)
    rule = Rule.objects.filter(pk=rule_id).select_related("dataset__team").first()
    if rule is None or not flags.is_active(rule.dataset.team, flags.AUTO_POPULATE_DATASETS):
        return None
    summary = tick_rule(rule_id=rule_id)
    if summary is None and attempt < RETRIES:
        kick(rule_id=rule_id, attempt=attempt + 1)
    return summary
