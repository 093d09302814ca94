"""How far a rule has worked through its window, for the rules section.

A tick that reads its window to the end leaves the watermark at its cut-off (the tick's
`now`, less the quiet period for the idle policy), and records that `now` as `last_run_at`.
A rule is still working through its window when the watermark is short of that (the per-tick
cap stopped it), or when it has none yet and starts in the past (new or just edited). Its
progress is counted in sessions, over the activity clock: those of the chatbot created since
`start_at` and changed up to the watermark, of those changed up to now. One query answers
every rule of a section.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q

from evalloop.autopopulate.models import Completion, Rule
from evalloop.autopopulate.preview import is_backfill
from evalloop.chat.models import Session

SLACK = timedelta(seconds=1)


@dataclass(frozen=True)
class Progress:
    scanned: int
    total: int

    @property
    def percent(self) -> int:
        return min(100, self.scanned * 100 // self.total) if self.total else 100


def working_through(rule: Rule, now: datetime) -> bool:
    """Whether `rule` has sources of its window still to read (as far as its status tells)."""
    if not rule.enabled:
        return False
    if rule.watermark is None:
        return is_backfill(rule, now)
    if rule.last_run_at is None:
        return True
    quiet = rule.idle if rule.completion == Completion.IDLE else timedelta(0)
    return rule.watermark < rule.last_run_at - quiet - SLACK


def backfill_progress(rules: Iterable[Rule], *, team_id: int, now: datetime) -> dict[int, Progress]:
    """Each rule (of team `team_id`) still working through its window, with its progress."""
    behind = [rule for rule in rules if working_through(rule, now)]
    if not behind:
        return {}
    counts: dict[str, Any] = {}
    for rule in behind:
        window = Q(chatbot_id=rule.chatbot_id, created_at__gte=rule.start_at)
        counts[f"total_{rule.pk}"] = Count("pk", filter=window)
        if rule.watermark is not None:
            read = window & Q(changed_at__lte=rule.watermark)
            counts[f"done_{rule.pk}"] = Count("pk", filter=read)
    sessions = Session.objects.filter(
        team_id=team_id,
        chatbot_id__in={rule.chatbot_id for rule in behind},
        changed_at__gte=min(rule.start_at for rule in behind),
        changed_at__lte=now,
    )
    found = sessions.aggregate(**counts)
    answer = {
        rule.pk: Progress(found.get(f"done_{rule.pk}", 0), found[f"total_{rule.pk}"])
        for rule in behind
    }
    return {pk: progress for pk, progress in answer.items() if progress.scanned < progress.total}
