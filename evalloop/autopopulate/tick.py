"""The tick: every enabled rule takes the complete, matching sources that changed lately.

Candidates come from the activity clock (`Session.changed_at`), read in keyset pages of
(changed_at, id) from the rule's watermark less a safety margin, up to a cut-off: now, or
for the idle policy now less the quiet period (a session becomes idle by time passing, with
no write, so its window ends there and the watermark advances only that far). Each page is
one transaction holding the rule (SKIP LOCKED on PostgreSQL; on SQLite the one writer
serialises) and, when it appends, the dataset: filter, ledger, deterministic sampling, the
per-tick cap, rows, ledger entries, delta runs and the watermark commit together.

The sweep (`sweep`, hourly) reads the part of the window behind the watermark, back over the
lookback, the same way, for sources the incremental path missed (a write that committed
later than the safety margin, say); the ledger keeps out what was taken, and it never moves
the watermark.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.utils import timezone

from evalloop.autopopulate import delta
from evalloop.autopopulate.models import Completion, Entry, Rule, Status
from evalloop.autopopulate.outcome import record_failure, record_success
from evalloop.autopopulate.services import describe_rule, rule_filter
from evalloop.chat.models import Message, Role, Session
from evalloop.datasets.models import Dataset, Mode, Origin, Row
from evalloop.datasets.services import lock_dataset
from evalloop.datasets.snapshots import append_new_rows, build_rows, insert_session_rows
from evalloop.filters import apply_filter, filter_time_limit
from evalloop.lib import busy, sampling
from evalloop.lib.arrays import id_in
from evalloop.teams import flags

logger = logging.getLogger(__name__)

PAGE = 1000  # candidate sessions per transaction

Source = tuple[int, int]  # (session id, AI message id or 0)
Cursor = tuple[datetime, int]  # (changed_at, id) of the last session processed
Candidate = tuple[int, datetime, bool]  # (id, changed_at, whether the ledger holds it)


class DatasetHeld(Exception):
    """Another writer holds the rule's dataset (deleting it, say): leave the page for later."""


@dataclass
class Counts:
    scanned: int = 0
    matched: int = 0
    sampled_out: int = 0
    in_ledger: int = 0
    appended: int = 0

    def __iadd__(self, other: Counts) -> Counts:
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


@dataclass
class Summary:
    """What one tick did for one rule."""

    rule_id: int
    status: str
    counts: Counts = field(default_factory=Counts)
    error: str = ""
    duration_ms: int = 0
    sweep: bool = False


def tick(*, now: datetime | None = None) -> list[Summary]:
    """Run every enabled rule of the teams with auto-population on, then due delta runs."""
    now = now or timezone.now()
    rule_ids, teams = _rules_on()
    summaries = [_guarded(rule_id, now, sweep=False) for rule_id in rule_ids]
    try:
        delta.flush_due(now=now, team_ids=teams)
    except Exception:
        logger.exception("Starting the delta runs that waited for their interval failed")
    return [summary for summary in summaries if summary is not None]


def sweep(*, now: datetime | None = None) -> list[Summary]:
    """Sweep every enabled rule of the teams with auto-population on (see the module doc)."""
    now = now or timezone.now()
    summaries = [_guarded(rule_id, now, sweep=True) for rule_id in _rules_on()[0]]
    return [summary for summary in summaries if summary is not None]


def _guarded(rule_id: int, now: datetime, *, sweep: bool) -> Summary | None:
    # Whatever one rule meets (even while recording its outcome), the others still run.
    try:
        return tick_rule(rule_id=rule_id, now=now, sweep=sweep)
    except Exception:
        logger.exception("The tick of auto-population rule %s failed", rule_id)
        return None


def _rules_on() -> tuple[list[int], set[int]]:
    """The enabled rules of the teams with auto-population on, and those teams."""
    rules = Rule.objects.enabled().order_by("id").values_list("id", "dataset__team_id")
    on = _teams_on({team_id for _, team_id in rules})
    return [rule_id for rule_id, team_id in rules if team_id in on], on


def _teams_on(team_ids: set[int]) -> set[int]:
    return flags.teams_active(team_ids, flags.AUTO_POPULATE_DATASETS)


def tick_rule(*, rule_id: int, now: datetime | None = None, sweep: bool = False) -> Summary | None:
    """One tick (or sweep) of one rule; None when another tick holds it or it is disabled."""
    now = now or timezone.now()
    started = time.monotonic()
    counts = Counts()
    try:
        claimed = take_sources(rule_id=rule_id, now=now, counts=counts, sweep=sweep)
    except OperationalError as exc:
        if not busy.is_busy(exc):
            return _failed(rule_id, exc, counts, started, now, sweep)
        # Busy is no fault of the rule: its page was rolled back whole, and the next tick
        # (or kick) takes it up again. It does not count towards switching the rule off.
        logger.warning("Auto-population rule %s met a busy database: %s", rule_id, exc)
        return None
    except Exception as exc:
        return _failed(rule_id, exc, counts, started, now, sweep)
    if not claimed:
        return None
    status = Status.SUCCESS if counts.appended else Status.NO_OP
    summary = Summary(rule_id, status, counts, "", _elapsed(started), sweep)
    record_success(summary, now=now)
    return summary


def _failed(
    rule_id: int, exc: Exception, counts: Counts, started: float, now: datetime, sweep: bool
) -> Summary:
    logger.exception("Auto-population rule %s failed", rule_id)
    error = f"{type(exc).__name__}: {exc}"
    summary = Summary(rule_id, Status.ERROR, counts, error, _elapsed(started), sweep)
    record_failure(summary, now=now)
    return summary


def _elapsed(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def take_sources(*, rule_id: int, now: datetime, counts: Counts, sweep: bool = False) -> bool:
    """Work through the rule's window page by page; False when the rule was not claimed."""
    cursor: Cursor | None = None
    budget = settings.EVALLOOP_TICK_MAX_SOURCES
    claimed = False
    version: datetime | None = None  # the rule as the first page read it
    while True:
        # One transaction per page: the rule (and the dataset) stay locked for a page only.
        # A page's counts join the tick's once it commits.
        page_counts = Counts()
        try:
            with transaction.atomic():
                rule = claim_rule(rule_id)
                if rule is None or (version is not None and rule.updated_at != version):
                    # Gone, off, taken, or edited since the first page: an edit rescans
                    # its window from the start, which this tick's cursor would skip.
                    return claimed
                version = rule.updated_at
                left = budget - counts.appended
                cursor, done = _page(rule, now, cursor, page_counts, left, sweep)
        except DatasetHeld:
            return claimed
        claimed = True
        counts += page_counts
        if done:
            return True


def claim_rule(rule_id: int) -> Rule | None:
    """The enabled rule, locked for this transaction; None when disabled, gone or taken."""
    rules = Rule.objects.filter(pk=rule_id, enabled=True).select_related("dataset__team", "chatbot")
    if connection.features.has_select_for_update_skip_locked:
        return rules.select_for_update(skip_locked=True, of=("self",)).first()
    return rules.select_for_update().first()


def cutoff(rule: Rule, now: datetime) -> datetime:
    return now - rule.idle if rule.completion == Completion.IDLE else now


def window(rule: Rule, now: datetime) -> QuerySet[Session]:
    """The sessions of the rule's chatbot that may hold new complete sources."""
    sessions = _sessions(rule).filter(changed_at__lte=cutoff(rule, now))
    if rule.watermark is not None:
        margin = timedelta(seconds=settings.EVALLOOP_TICK_SAFETY_MARGIN_SECONDS)
        sessions = sessions.filter(changed_at__gte=rule.watermark - margin)
    return sessions


def sweep_window(rule: Rule, now: datetime) -> QuerySet[Session]:
    """The part of the window behind the watermark, back over the sweep's lookback."""
    if rule.watermark is None:
        return Session.objects.none()  # the ticks are still reading the whole window
    since = now - timedelta(days=settings.EVALLOOP_SWEEP_LOOKBACK_DAYS)
    until = min(rule.watermark, cutoff(rule, now))
    return _sessions(rule).filter(changed_at__gte=since, changed_at__lte=until)


def _sessions(rule: Rule) -> QuerySet[Session]:
    sessions = Session.objects.filter(
        team_id=rule.dataset.team_id, chatbot_id=rule.chatbot_id, created_at__gte=rule.start_at
    )
    if rule.completion == Completion.ENDED:
        sessions = sessions.filter(ended_at__isnull=False)
    return sessions


def _page(
    rule: Rule, now: datetime, cursor: Cursor | None, counts: Counts, budget: int, sweep: bool
) -> tuple[Cursor | None, bool]:
    """Process one page; answer the new cursor and whether the pass is done with the rule."""
    sessions = sweep_window(rule, now) if sweep else window(rule, now)
    # One more than a page tells whether another follows, without reading an empty one.
    found = _candidates(rule, sessions, cursor)
    page, more = found[:PAGE], len(found) > PAGE
    taken, last, stopped = _choose(rule, page, counts, budget)
    if taken:
        _append(rule, taken, now, counts)
    done = stopped or not more
    if not sweep:
        _advance(rule, now, last, finished=done and not stopped)
    return last, done


def _advance(rule: Rule, now: datetime, last: Cursor | None, *, finished: bool) -> None:
    # Only as far as processed: the rest of the window waits for the next page or tick.
    if finished:
        rule.watermark = cutoff(rule, now)
    elif last is not None:
        rule.watermark = last[0]
    rule.save(update_fields=["watermark"])


def _candidates(rule: Rule, sessions: QuerySet[Session], cursor: Cursor | None) -> list[Candidate]:
    """Up to a page and one of `sessions` after `cursor`, in (changed_at, id) order.

    In session mode each says whether the rule's ledger holds it already (a probe of the
    ledger's unique index), so the sessions the safety margin reads again cost nothing
    more. In message mode a session in the ledger may have new replies: none is marked.
    """
    if cursor is not None:
        at, pk = cursor
        # (changed_at, id) > cursor, with a bound on changed_at alone so that the index's
        # range starts at the cursor rather than at the start of the window.
        sessions = sessions.filter(changed_at__gte=at).filter(Q(changed_at__gt=at) | Q(id__gt=pk))
    if rule.dataset.mode == Mode.SESSION:
        # A subquery with a LIMIT, unlike EXISTS, is never planned as a hash of all the
        # rule's entries: it stays one probe per session read.
        entries = Entry.objects.filter(rule_id=rule.pk, session_key=OuterRef("id"), message_key=0)
        sessions = sessions.annotate(entry=Subquery(entries.values("id")[:1]))
    else:
        sessions = sessions.annotate(entry=Value(None, output_field=IntegerField()))
    ordered = sessions.order_by("changed_at", "id").values_list("id", "changed_at", "entry")
    return [(pk, at, entry is not None) for pk, at, entry in ordered[: PAGE + 1]]


def _choose(
    rule: Rule, page: list[Candidate], counts: Counts, budget: int
) -> tuple[list[Source], Cursor | None, bool]:
    """The sources to append, the last session processed, and whether the cap stopped it.

    A session already in the ledger is counted there before the filter is asked (the
    ledger decides first, as it does when a decision is explained).
    """
    ids = [pk for pk, _, in_ledger in page if not in_ledger]
    matched = _matching(rule, ids)
    sources = _sources(rule, [pk for pk in ids if pk in matched])
    seen = _in_ledger(rule, matched) if rule.dataset.mode == Mode.MESSAGE else set()
    taken: list[Source] = []
    last: Cursor | None = None
    for pk, changed_at, in_ledger in page:
        found = [(pk, 0)] if in_ledger else sources.get(pk, [])
        new = [] if in_ledger else [s for s in found if s not in seen]
        keep = [s for s in new if sampled_in(rule, s)]
        if keep and len(taken) + len(keep) > budget and (taken or budget <= 0):
            return taken, last, True
        _count(counts, found, new, keep)
        taken.extend(keep)
        last = (changed_at, pk)
    return taken, last, False


def _count(counts: Counts, sources: list[Source], new: list[Source], keep: list[Source]) -> None:
    counts.scanned += 1
    counts.matched += len(sources)
    counts.in_ledger += len(sources) - len(new)
    counts.sampled_out += len(new) - len(keep)


def _matching(rule: Rule, ids: list[int]) -> set[int]:
    flt = rule_filter(rule)
    if not ids or not flt.clauses:
        return set(ids)
    sessions = apply_filter(Session.objects.filter(id_in("id", ids)), flt, team=rule.dataset.team)
    with filter_time_limit():
        return set(sessions.values_list("id", flat=True))


def _sources(rule: Rule, ids: list[int]) -> dict[int, list[Source]]:
    """Each session's sources: itself, or in message mode its AI replies."""
    if rule.dataset.mode == Mode.SESSION:
        return {pk: [(pk, 0)] for pk in ids}
    found: dict[int, list[Source]] = {}
    if not ids:
        return found
    replies = Message.objects.filter(id_in("session_id", ids), role=Role.AI).order_by(
        "session_id", "id"
    )
    for session_id, message_id in replies.values_list("session_id", "id"):
        found.setdefault(session_id, []).append((session_id, message_id))
    return found


def _in_ledger(rule: Rule, session_ids: set[int]) -> set[Source]:
    if not session_ids:
        return set()
    entries = Entry.objects.filter(id_in("session_key", sorted(session_ids)), rule=rule)
    return set(entries.values_list("session_key", "message_key"))


def sampled_in(rule: Rule, source: Source) -> bool:
    """Deterministic: the same rule and source always decide the same way."""
    return sampling.sampled_in(
        seed=rule.pk, source_id=source[1] or source[0], rate=rule.sample_rate
    )


def _append(rule: Rule, taken: list[Source], now: datetime, counts: Counts) -> None:
    """Build, insert and record the rows of `taken`, and their delta runs."""
    _lock_dataset(rule)
    made = _insert_rows(rule, taken)
    _write_entries(rule, [(s, m, made.get((s, m))) for s, m in taken], now)
    counts.appended += len(made)
    row_ids = list(made.values())
    delta.rows_appended(
        dataset_id=rule.dataset_id, row_ids=row_ids, label=describe_rule(rule), now=now
    )


def _insert_rows(rule: Rule, taken: list[Source]) -> dict[Source, int]:
    """The rows of the sources in `taken` the dataset does not hold yet: the row of each."""
    session_ids = sorted({session_id for session_id, _ in taken})
    if connection.vendor == "postgresql" and rule.dataset.mode == Mode.SESSION:
        made = insert_session_rows(
            dataset=rule.dataset, session_ids=session_ids, origin=Origin.RULE, rule_id=rule.pk
        )
        return {(session_id, 0): row_id for session_id, row_id in made.items()}
    wanted = set(taken)
    candidates = [
        row
        for row in build_rows(dataset=rule.dataset, session_ids=session_ids, origin=Origin.RULE)
        if _source_of(row) in wanted
    ]
    for row in candidates:
        row.rule_id = rule.pk
    _, inserted = append_new_rows(dataset=rule.dataset, candidates=candidates)
    return {_source_of(row): row.pk for row in inserted}


def _lock_dataset(rule: Rule) -> None:
    """Lock the rule's dataset as every writer of rows does, without waiting for it.

    The tick holds the rule first; a writer that locks the dataset and then the rule (a
    dataset or rule being deleted) would deadlock with a tick that waited here. Instead
    the tick rolls the page back and leaves it to the next tick.
    """
    if not connection.features.has_select_for_update_skip_locked:
        lock_dataset(rule.dataset)  # SQLite: one writer at a time, no lock order to keep
        return
    datasets = Dataset.objects.filter(pk=rule.dataset_id).select_for_update(skip_locked=True)
    if not datasets.exists():
        raise DatasetHeld


def _write_entries(rule: Rule, entries: list[tuple[int, int, int | None]], now: datetime) -> None:
    """The ledger entries (session, message, row made) of `rule`, in one statement."""
    if connection.vendor != "postgresql":
        Entry.objects.bulk_create(
            Entry(rule_id=rule.pk, session_key=s, message_key=m, row_id=r, created_at=now)
            for s, m, r in entries
        )
        return
    # Three arrays rather than a model instance and five parameters per entry: a backfill
    # writes thousands per tick.
    sessions, messages, rows = (list(column) for column in zip(*entries, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Entry._meta.db_table} "
            "(rule_id, session_key, message_key, row_id, created_at) "
            "SELECT %s, s, m, r, %s FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) "
            "AS e(s, m, r)",
            [rule.pk, now, sessions, messages, rows],
        )


def _source_of(row: Row) -> Source:
    return (row.source_session_id or 0, row.source_ai_message_id or 0)
