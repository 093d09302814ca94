"""Managing rules: create, edit, enable or disable, delete. Each validates, then writes."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from evalloop.autopopulate.models import Completion, Rule
from evalloop.chat.models import Chatbot
from evalloop.datasets.models import Dataset
from evalloop.datasets.services import lock_dataset
from evalloop.filters import Filter, FilterError, Target, parse_filter
from evalloop.lib.locking import lock_or_404
from evalloop.lib.moments import MomentError, check_moment

EDITABLE = ("chatbot", "filter", "completion", "idle_minutes", "sample_rate", "start_at")


def create_rule(
    *,
    dataset: Dataset,
    chatbot: Chatbot | int,
    filter: Any = (),
    completion: str = Completion.ENDED,
    idle_minutes: int = 30,
    sample_rate: float = 1.0,
    start_at: datetime | None = None,
    enabled: bool = True,
) -> Rule:
    """Add a rule to `dataset`; a ValidationError naming the fields refuses bad input."""
    now = timezone.now()
    fields = {
        "chatbot": chatbot,
        "filter": filter,
        "completion": completion,
        "idle_minutes": idle_minutes,
        "sample_rate": sample_rate,
        "start_at": start_at or now,
    }
    clean = clean_rule_fields(dataset, fields, now=now)
    with transaction.atomic():
        lock_or_404(dataset)
        rule = Rule.objects.create(
            dataset=dataset, enabled=enabled, created_at=now, updated_at=now, **clean
        )
        _tick_soon(rule)
    return rule


def update_rule(*, rule: Rule, **changes: Any) -> Rule:
    """Change the given fields of `rule` (those of EDITABLE), validated as on creation."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "This field cannot be changed."))
    clean = clean_rule_fields(rule.dataset, changes, now=timezone.now())
    with transaction.atomic():
        rule = lock_or_404(rule)
        for name, value in clean.items():
            setattr(rule, name, value)
        # What the rule takes changed: scan its window again from start_at (a backfill);
        # the ledger keeps every source it already took out.
        rule.watermark = None
        rule.updated_at = timezone.now()
        rule.save(update_fields=[*clean, "watermark", "updated_at"])
        _tick_soon(rule)
    return rule


def draft_rule(*, dataset: Dataset, rule: Rule | None = None, **fields: Any) -> Rule:
    """An unsaved rule with `fields`, validated as on creation, to preview before saving.

    With `rule`, a copy of it with the fields changed: it keeps the rule's id, and with it
    the rule's ledger and sampling decisions. Without, `chatbot` is required.
    """
    now = timezone.now()
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationError(dict.fromkeys(unknown, "Not a field of a rule."))
    if rule is None and "chatbot" not in fields:
        raise ValidationError({"chatbot": "This field is required."})
    draft = copy.copy(rule) if rule else Rule(dataset=dataset, start_at=now, created_at=now)
    for name, value in clean_rule_fields(dataset, fields, now=now).items():
        setattr(draft, name, value)
    return draft


def set_enabled(*, rule: Rule, enabled: bool) -> Rule:
    """Switch `rule` on or off; switching it on clears its failure count."""
    with transaction.atomic():
        rule = lock_or_404(rule)
        rule.enabled = enabled
        if enabled:
            rule.consecutive_failures = 0
        rule.updated_at = timezone.now()
        rule.save(update_fields=["enabled", "consecutive_failures", "updated_at"])
        _tick_soon(rule)
    return rule


def delete_rule(*, rule: Rule) -> None:
    """Delete `rule` and its ledger and ticks; the rows it added stay, unlinked."""
    with transaction.atomic():
        # The dataset first, as every writer of its rows: a tick appending to it finishes
        # its page (or gives way) before the delete reads the entries and rows to take along.
        lock_dataset(rule.dataset)
        lock_or_404(rule).delete()


def _tick_soon(rule: Rule) -> None:
    """Kick an enabled rule's tick once the transaction commits: what it now takes (a
    backfill, say) starts within seconds rather than at the next periodic tick."""
    from evalloop.autopopulate import kicks  # kicks tick, which reads rules through here

    if rule.enabled:
        rule_id = rule.pk
        transaction.on_commit(lambda: kicks.kick(rule_id=rule_id), robust=True)


def describe_rule(rule: Rule) -> str:
    """The rule in words, e.g. for the runs it triggers."""
    return f"Rule {rule.pk}: {rule.chatbot.name} into {rule.dataset.name}"


def rule_filter(rule: Rule) -> Filter:
    return parse_filter(rule.filter, target=Target.SESSION)


# Validation


def clean_rule_fields(dataset: Dataset, fields: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """The fields, checked and normalised; a ValidationError names each bad one."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name, value in fields.items():
        try:
            clean[name] = CHECKS[name](dataset, value, now)
        except ValidationError as exc:
            errors[name] = "; ".join(exc.messages)
    if errors:
        raise ValidationError(errors)
    return clean


def _chatbot(dataset: Dataset, value: Any, now: datetime) -> Chatbot:
    chatbot_id = value.pk if isinstance(value, Chatbot) else value
    found = Chatbot.objects.for_team(dataset.team).filter(pk=chatbot_id).first()
    if found is None or isinstance(chatbot_id, bool):
        raise ValidationError("Unknown chatbot.")
    return found


def _filter(dataset: Dataset, value: Any, now: datetime) -> list[dict[str, Any]]:
    try:
        return parse_filter(list(value or []), target=Target.SESSION).to_json()
    except FilterError as exc:
        raise ValidationError(exc.messages()) from None
    except TypeError:
        raise ValidationError("Must be a list of clauses.") from None


def _completion(dataset: Dataset, value: Any, now: datetime) -> str:
    if value not in Completion.values:
        raise ValidationError(f"Unknown completion policy; one of {', '.join(Completion.values)}.")
    return str(value)


def _idle_minutes(dataset: Dataset, value: Any, now: datetime) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10080:
        raise ValidationError("Must be a whole number of minutes from 1 to 10080 (a week).")
    return value


def _sample_rate(dataset: Dataset, value: Any, now: datetime) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ValidationError("Must be more than 0 and at most 1.")
    return float(value)


def _start_at(dataset: Dataset, value: Any, now: datetime) -> datetime:
    if not isinstance(value, datetime) or timezone.is_naive(value):
        raise ValidationError("Must be a date and time with a time zone.")
    try:
        check_moment(value)
    except MomentError as exc:
        raise ValidationError(f"Must be a time evalloop accepts: {exc}.") from None
    if value > now:
        raise ValidationError("Must not be in the future.")
    return value


CHECKS = {
    "chatbot": _chatbot,
    "filter": _filter,
    "completion": _completion,
    "idle_minutes": _idle_minutes,
    "sample_rate": _sample_rate,
    "start_at": _start_at,
}
