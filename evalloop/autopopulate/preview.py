"""The preview: what a rule would take now, before it is saved or changed.

`would_add` counts the sources of the last N days (sessions created since then) that the
rule would take if it had watched them all along: complete by its policy now, matching its
filter, not in its ledger, sampled in. `backfill` counts the same from `start_at` to now,
which a past `start_at` adds on the next ticks. Counting is SQL; only sampling reads ids, at
most SAMPLED_AT_MOST of them, with the tick's own deterministic function, so a saved rule's
count is exact up to that bound. An unsaved rule has no id to sample by: its count is the
matches times the rate, an estimate, and says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from django.db.models import Count, Exists, OuterRef, QuerySet
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone

from evalloop.autopopulate.models import Completion, Entry, Rule
from evalloop.autopopulate.services import rule_filter
from evalloop.autopopulate.tick import Source, sampled_in
from evalloop.chat.models import Message, Role, Session
from evalloop.datasets.models import Mode
from evalloop.filters import apply_filter, filter_time_limit
from evalloop.runs.models import Config

# Sessions, or in message mode AI replies: two models, read through the same few columns.
Sources = QuerySet[Any]

DAYS = 7
MAX_DAYS = 90
EXAMPLES = 5
SAMPLED_AT_MOST = 20_000  # source ids read to apply sampling; past that, a proportion
EXAMPLES_SCANNED = 1_000  # newest sources looked at to find sampled-in examples
# A start this far back is a backfill; a moment ago is "from now on".
BACKFILL_AFTER = timedelta(minutes=1)


@dataclass(frozen=True)
class Example:
    session_id: int
    external_id: str
    message_id: int | None
    created_at: datetime
    text: str
    url: str


@dataclass(frozen=True)
class Tally:
    """A number of sources, and whether it is an estimate rather than an exact count."""

    count: int
    estimate: bool


@dataclass(frozen=True)
class AutoRun:
    """A config of the dataset that runs on every append, and its evaluators."""

    name: str
    evaluators: int


@dataclass(frozen=True)
class Backfill:
    since: datetime
    would_add: Tally
    auto_runs: list[AutoRun]

    @property
    def evaluations(self) -> int | None:
        """Evaluations the backfill triggers (rows times evaluators), None when none auto-run."""
        if not self.auto_runs:
            return None
        return self.would_add.count * sum(run.evaluators for run in self.auto_runs)


@dataclass(frozen=True)
class Preview:
    days: int
    unit: str  # what one source is: "session" or "turn"
    would_add: Tally
    examples: list[Example]
    backfill: Backfill | None


def preview_rule(*, rule: Rule, days: int = DAYS, now: datetime | None = None) -> Preview:
    """What `rule` (saved, or an unsaved draft) would take now; see the module's docstring."""
    now = now or timezone.now()
    with filter_time_limit():
        recent = _sources(rule, since=now - timedelta(days=days), now=now)
        return Preview(
            days=days,
            unit="session" if rule.dataset.mode == Mode.SESSION else "turn",
            would_add=_tally(rule, recent),
            examples=_examples(rule, recent),
            backfill=_backfill(rule, now),
        )


def is_backfill(rule: Rule, now: datetime) -> bool:
    return rule.start_at < now - BACKFILL_AFTER


def _backfill(rule: Rule, now: datetime) -> Backfill | None:
    if not is_backfill(rule, now):
        return None
    tally = _tally(rule, _sources(rule, since=rule.start_at, now=now))
    return Backfill(since=rule.start_at, would_add=tally, auto_runs=auto_runs(rule))


def auto_runs(rule: Rule) -> list[AutoRun]:
    configs = Config.objects.filter(dataset_id=rule.dataset_id, auto_run_on_append=True)
    counted = configs.annotate(n=Count("evaluators")).order_by("name")
    return [AutoRun(name, n) for name, n in counted.values_list("name", "n")]


# The sources


def complete_sessions(rule: Rule, *, since: datetime, now: datetime) -> QuerySet[Session]:
    """The rule chatbot's sessions created since `since`, complete by its policy now."""
    sessions = Session.objects.filter(
        team_id=rule.dataset.team_id, chatbot_id=rule.chatbot_id, created_at__gte=since
    )
    if rule.completion == Completion.ENDED:
        return sessions.filter(ended_at__isnull=False)
    if rule.completion == Completion.IDLE:
        return sessions.filter(changed_at__lte=now - rule.idle)
    return sessions


def _sources(rule: Rule, *, since: datetime, now: datetime) -> Sources:
    """Matching sources not in the rule's ledger: sessions, or in message mode AI replies."""
    sessions = complete_sessions(rule, since=since, now=now)
    flt = rule_filter(rule)
    if flt.clauses:
        sessions = apply_filter(sessions, flt, team=rule.dataset.team)
    if rule.dataset.mode == Mode.SESSION:
        if rule.pk is not None:
            sessions = sessions.exclude(
                Exists(Entry.objects.filter(rule_id=rule.pk, session_key=OuterRef("pk")))
            )
        return sessions
    replies = Message.objects.filter(session__in=sessions.values("pk"), role=Role.AI)
    if rule.pk is not None:
        taken = Entry.objects.filter(
            rule_id=rule.pk, session_key=OuterRef("session_id"), message_key=OuterRef("pk")
        )
        replies = replies.exclude(Exists(taken))
    return replies


def _ids(sources: Sources) -> QuerySet[Any, tuple[int, ...]]:
    if sources.model is Session:
        return sources.values_list("pk")
    return sources.values_list("session_id", "pk")


def _as_source(pair: tuple[int, ...], model: type) -> Source:
    return (pair[0], 0) if model is Session else (pair[0], pair[1])


def _tally(rule: Rule, sources: Sources) -> Tally:
    total = sources.count()
    if rule.sample_rate >= 1 or total == 0:
        return Tally(total, False)
    if rule.pk is None:
        return Tally(round(total * rule.sample_rate), True)
    read = _ids(sources).order_by().iterator(chunk_size=2_000)
    seen = kept = 0
    for pair in islice(read, SAMPLED_AT_MOST):
        seen += 1
        kept += sampled_in(rule, _as_source(pair, sources.model))
    if seen >= total:
        return Tally(kept, False)
    return Tally(round(total * kept / seen), True)


def _examples(rule: Rule, sources: Sources) -> list[Example]:
    newest = _ids(sources).order_by("-created_at", "-pk")[:EXAMPLES_SCANNED]
    chosen = list(islice(_sampled(rule, newest, sources.model), EXAMPLES))
    if sources.model is Session:
        return _session_examples(rule, [session_id for session_id, _ in chosen])
    return _turn_examples(rule, [message_id for _, message_id in chosen])


def _sampled(rule: Rule, pairs: Iterable[tuple[int, ...]], model: type) -> Iterable[Source]:
    for pair in pairs:
        source = _as_source(pair, model)
        if rule.pk is None or sampled_in(rule, source):
            yield source


def _session_examples(rule: Rule, ids: list[int]) -> list[Example]:
    sessions = Session.objects.filter(pk__in=ids).annotate(messages_count=Count("messages"))
    found = {session.pk: session for session in sessions}
    return [
        Example(
            session_id=pk,
            external_id=found[pk].external_id,
            message_id=None,
            created_at=found[pk].created_at,
            text=f"{found[pk].messages_count} message{pluralize(found[pk].messages_count)}",
            url=_transcript(rule, pk),
        )
        for pk in ids
        if pk in found
    ]


def _turn_examples(rule: Rule, ids: list[int]) -> list[Example]:
    replies = Message.objects.filter(pk__in=ids).select_related("session")
    found = {reply.pk: reply for reply in replies}
    return [
        Example(
            session_id=found[pk].session_id,
            external_id=found[pk].session.external_id,
            message_id=pk,
            created_at=found[pk].created_at,
            text=found[pk].content[:200],
            url=f"{_transcript(rule, found[pk].session_id)}#message-{pk}",
        )
        for pk in ids
        if pk in found
    ]


def _transcript(rule: Rule, session_id: int) -> str:
    return reverse("chat:transcript", args=[rule.chatbot.slug, session_id])
