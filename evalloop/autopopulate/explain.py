"""Why a session (in message mode, each of its AI turns) is or is not in a rule's dataset.

A source the ledger holds is answered by its entry first: the rule took it once and never
takes it again, whatever the session or the rule became since. Any other source goes through
the tick's own checks in the tick's order: the rule switched off, created before `start_at`,
not complete by the completion policy, the filter (naming the first clause that fails),
sampling, and then it is pending: the next tick takes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache, partial

from django.conf import settings
from django.template.defaultfilters import pluralize
from django.utils import timezone

from evalloop.autopopulate.models import Completion, Entry, Rule
from evalloop.autopopulate.services import rule_filter
from evalloop.autopopulate.tick import Source, cutoff, sampled_in
from evalloop.chat.models import Message, Role, Session
from evalloop.datasets.models import Mode, Row
from evalloop.filters import Filter, FilterTimeout, apply_filter, filter_time_limit


class Decision(StrEnum):
    ADDED = "added"
    IN_LEDGER = "in_ledger"
    DISABLED = "disabled"
    BEFORE_START = "before_start"
    NOT_COMPLETE = "not_complete"
    FILTERED_OUT = "filtered_out"
    SAMPLED_OUT = "sampled_out"
    PENDING = "pending"
    NO_TURNS = "no_turns"
    MIXED = "mixed"
    UNDECIDED = "undecided"


# How a count of turns reads in a message-mode summary ("2 added, 1 sampled out").
TURN_WORDS = {
    Decision.ADDED: "added",
    Decision.IN_LEDGER: "taken before without a row",
    Decision.DISABLED: "waiting for the rule to be switched on",
    Decision.BEFORE_START: "before the start",
    Decision.NOT_COMPLETE: "not complete",
    Decision.FILTERED_OUT: "filtered out",
    Decision.SAMPLED_OUT: "sampled out",
    Decision.PENDING: "to be added on the next tick",
    Decision.UNDECIDED: "undecided",
}


@dataclass
class Explanation:
    """A decision (a stable code), its reason in words, and the facts behind it."""

    decision: Decision
    reason: str
    row_id: int | None = None
    row_position: int | None = None  # the row's place in the dataset, as its pages number it
    clause: int | None = None  # the failing clause, counted from 1 as people count
    clause_text: str = ""
    complete_at: datetime | None = None
    then: Decision | None = None  # what a switched-off rule would decide once on
    message_id: int | None = None
    turns: list[Explanation] = field(default_factory=list)


@dataclass
class Facts:
    """What the explanations of one session need, read once for all its rules."""

    session: Session
    now: datetime
    entries: dict[tuple[int, int, int], int | None]  # (rule, session, message) -> row id
    rows: dict[int, dict[int, int]]  # dataset id -> {AI message id or 0: row id}
    places: dict[int, int]  # row id -> its place in its dataset
    ai_ids: list[int]
    unanswered: int | None  # a last human turn with no AI reply yet


Refusal = Callable[[], Explanation | None]


def explain(*, rule: Rule, session: Session, now: datetime | None = None) -> Explanation:
    """Why `session` is, or is not, in `rule`'s dataset."""
    return explain_rules(rules=[rule], session=session, now=now)[0]


def explain_rules(
    *, rules: Sequence[Rule], session: Session, now: datetime | None = None
) -> list[Explanation]:
    """`explain` for each of `rules` (with their datasets loaded), reading shared facts once."""
    facts = gather(rules, session, now or timezone.now())
    return [_explain(rule, facts) for rule in rules]


def gather(rules: Sequence[Rule], session: Session, now: datetime) -> Facts:
    entries = Entry.objects.filter(rule__in=[rule.pk for rule in rules], session_key=session.pk)
    found = entries.values_list("rule_id", "session_key", "message_key", "row_id")
    rows: dict[int, dict[int, int]] = {}
    datasets = {rule.dataset_id for rule in rules}
    held = Row.objects.filter(dataset__in=datasets, source_session=session)
    for dataset_id, row_id, ai_id in held.values_list("dataset_id", "id", "source_ai_message_id"):
        rows.setdefault(dataset_id, {}).setdefault(ai_id or 0, row_id)
    ledger: dict[tuple[int, int, int], int | None] = {key[:3]: key[3] for key in found}
    places = _places(rules, ledger, rows)
    ai_ids, unanswered = _turns(session, rules)
    return Facts(session, now, ledger, rows, places, ai_ids, unanswered)


def _places(
    rules: Sequence[Rule],
    ledger: dict[tuple[int, int, int], int | None],
    rows: dict[int, dict[int, int]],
) -> dict[int, int]:
    """The place of every row an explanation may name: one query per dataset holding one."""
    datasets = {rule.dataset_id: rule.dataset for rule in rules}
    dataset_of = {rule.pk: rule.dataset_id for rule in rules}
    named: dict[int, set[int]] = {pk: set(held.values()) for pk, held in rows.items()}
    for (rule_id, _, _), row_id in ledger.items():
        if row_id is not None:
            named.setdefault(dataset_of[rule_id], set()).add(row_id)
    places: dict[int, int] = {}
    for dataset_id, row_ids in named.items():
        places |= datasets[dataset_id].row_positions(row_ids)
    return places


def _turns(session: Session, rules: Sequence[Rule]) -> tuple[list[int], int | None]:
    if all(rule.dataset.mode == Mode.SESSION for rule in rules):
        return [], None
    thread = Message.objects.filter(session=session, role__in=[Role.HUMAN, Role.AI])
    said = list(thread.order_by("created_at", "id").values_list("id", "role"))
    ai_ids = sorted(pk for pk, role in said if role == Role.AI)
    unanswered = said[-1][0] if said and said[-1][1] == Role.HUMAN else None
    return ai_ids, unanswered


def _explain(rule: Rule, facts: Facts) -> Explanation:
    # The session's checks run only for a source the ledger does not answer.
    refusal = cache(partial(_session_checks, rule, facts))
    if rule.dataset.mode == Mode.SESSION:
        return _source(rule, facts, (facts.session.pk, 0), refusal)
    return _message_mode(rule, facts, refusal)


def _message_mode(rule: Rule, facts: Facts, refusal: Refusal) -> Explanation:
    turns = [
        replace(_source(rule, facts, (facts.session.pk, pk), refusal), message_id=pk)
        for pk in facts.ai_ids
    ]
    if facts.unanswered is not None:
        turns.append(_unanswered(rule, facts.unanswered, refusal()))
    if not turns:
        return refusal() or Explanation(
            Decision.NO_TURNS,
            "The session has no turns yet: message mode takes each AI reply with the human "
            "turn before it.",
        )
    return _summary(turns)


def _unanswered(rule: Rule, message_id: int, refused: Explanation | None) -> Explanation:
    if refused is not None:
        return replace(refused, message_id=message_id)
    waiting = Explanation(
        Decision.NOT_COMPLETE,
        "This turn has no AI reply yet; it becomes a source when its reply exists.",
        message_id=message_id,
    )
    return _when_enabled(rule, waiting)


def _summary(turns: list[Explanation]) -> Explanation:
    if len({(turn.decision, turn.reason) for turn in turns}) == 1:
        return replace(turns[0], message_id=None, turns=turns)
    decisions = [turn.decision for turn in turns]
    counts = {decision: decisions.count(decision) for decision in dict.fromkeys(decisions)}
    parts = ", ".join(f"{n} {TURN_WORDS[decision]}" for decision, n in counts.items())
    decision = decisions[0] if len(counts) == 1 else Decision.MIXED
    total = f"{len(turns)} turn{pluralize(len(turns))}"
    return Explanation(decision, f"{total}: {parts}.", turns=turns)


def _source(rule: Rule, facts: Facts, source: Source, refusal: Refusal) -> Explanation:
    """One source: by its ledger entry, else the session's refusal, else sampling."""
    key = (rule.pk, *source)
    if key in facts.entries:
        held = facts.rows.get(rule.dataset_id, {}).get(source[1])
        return _ledgered(facts, facts.entries[key], held)
    if (refused := refusal()) is not None:
        return replace(refused)
    return _when_enabled(rule, _sampled(rule, facts, source))


def _naming(facts: Facts, decision: Decision, reason: str, row_id: int) -> Explanation:
    """An explanation naming a row in its reason (`{row}`) by its place, as the dataset does."""
    place = facts.places.get(row_id)
    named = f"row {place}" if place else "a row"
    return Explanation(decision, reason.replace("{row}", named), row_id=row_id, row_position=place)


def _ledgered(facts: Facts, row_id: int | None, held: int | None) -> Explanation:
    if row_id is not None:
        return _naming(facts, Decision.ADDED, "Added as {row}.", row_id)
    if held is not None:
        reason = (
            "Already in the ledger without a row of its own; the dataset holds this source "
            "as {row}."
        )
        return _naming(facts, Decision.IN_LEDGER, reason, held)
    return Explanation(
        Decision.IN_LEDGER,
        "Already in the ledger, but its row was deleted; the rule will not add it again.",
    )


def _sampled(rule: Rule, facts: Facts, source: Source) -> Explanation:
    if not sampled_in(rule, source):
        return Explanation(
            Decision.SAMPLED_OUT,
            f"Sampled out: the rule keeps {rule.sample_rate:.0%} of its sources, chosen by a "
            "fixed hash of the rule and the source, so this one stays out.",
        )
    held = facts.rows.get(rule.dataset_id, {}).get(source[1])
    reason = "Complete, matching and sampled in, but not taken yet: " + _taker(rule, facts)
    if held is None:
        return Explanation(Decision.PENDING, reason)
    reason += " The dataset already holds it as {row}, so no second row is added."
    return _naming(facts, Decision.PENDING, reason, held)


def _taker(rule: Rule, facts: Facts) -> str:
    margin = timedelta(seconds=settings.EVALLOOP_TICK_SAFETY_MARGIN_SECONDS)
    if rule.watermark is not None and facts.session.changed_at < rule.watermark - margin:
        return (
            "it last changed before the rule's watermark, which the regular tick has passed; "
            "the sweep takes it."
        )
    return "the next tick adds it."


def _when_enabled(rule: Rule, explanation: Explanation) -> Explanation:
    """A switched-off rule takes nothing; say what it would decide once switched on."""
    if rule.enabled:
        return explanation
    reason = f"The rule is switched off, so it takes nothing. Once on: {explanation.reason}"
    return replace(
        explanation, decision=Decision.DISABLED, reason=reason, then=explanation.decision
    )


# The session's checks, in the tick's order


def _session_checks(rule: Rule, facts: Facts) -> Explanation | None:
    """The session-wide reason no source of the session can be taken now, if any."""
    session = facts.session
    refused = _before_start(rule, session) or _incomplete(rule, session, facts.now)
    refused = refused or _filtered_out(rule, session)
    return None if refused is None else _when_enabled(rule, refused)


def _before_start(rule: Rule, session: Session) -> Explanation | None:
    if session.created_at >= rule.start_at:
        return None
    return Explanation(
        Decision.BEFORE_START,
        f"The session began at {_moment(session.created_at)}, before the rule's start at "
        f"{_moment(rule.start_at)}; the rule takes only sessions created from then on.",
    )


def _incomplete(rule: Rule, session: Session, now: datetime) -> Explanation | None:
    if rule.completion == Completion.ENDED and session.ended_at is None:
        return Explanation(
            Decision.NOT_COMPLETE,
            "The session has not ended; the rule waits for the session to end.",
        )
    if rule.completion != Completion.IDLE or session.changed_at <= cutoff(rule, now):
        return None
    complete_at = session.changed_at + rule.idle
    return Explanation(
        Decision.NOT_COMPLETE,
        f"The session is not quiet yet: it becomes complete at {_moment(complete_at)}, "
        f"{rule.idle_minutes} minutes after its last change, unless it changes again.",
        complete_at=complete_at,
    )


def _filtered_out(rule: Rule, session: Session) -> Explanation | None:
    flt = rule_filter(rule)
    if not flt:
        return None
    try:
        with filter_time_limit():
            clause = _failing_clause(flt, session)
    except FilterTimeout as exc:
        return Explanation(Decision.UNDECIDED, f"The filter could not be checked: {exc}.")
    if clause is None:
        return None
    text = flt.describe()[clause]
    return Explanation(
        Decision.FILTERED_OUT,
        f"Filtered out by clause {clause + 1} ({text}): the session does not match it.",
        clause=clause + 1,
        clause_text=text,
    )


def _failing_clause(flt: Filter, session: Session) -> int | None:
    """The index of the first clause `session` fails; None when it matches them all."""
    if _matches(flt, session):
        return None
    for index, clause in enumerate(flt.clauses):
        if not _matches(Filter(flt.target, (clause,)), session):
            return index
    return None  # pragma: no cover - the clauses are ANDed: one of them fails


def _matches(flt: Filter, session: Session) -> bool:
    one = Session.objects.filter(pk=session.pk)
    return apply_filter(one, flt, team=session.team).exists()


def _moment(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
