"""What a tick leaves behind: the rule's status, its tick record, and after repeated
failures the rule switched off and its dataset's editors told."""

from __future__ import annotations

import random
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import connection, transaction
from django.db.models import Subquery
from django.urls import reverse

from evalloop.autopopulate.models import TICKS_KEPT, Rule, Status, Tick
from evalloop.notifications.services import Kind, notify
from evalloop.teams.permissions import Action

if TYPE_CHECKING:
    from evalloop.autopopulate.tick import Summary

FAILURES_BEFORE_DISABLING = 3


def record_success(summary: Summary, *, now: datetime) -> None:
    if connection.vendor == "postgresql":
        _record_success_at_once(summary, now)
        return
    with transaction.atomic():
        updated = Rule.objects.filter(pk=summary.rule_id).update(
            last_run_at=now, last_status=summary.status, last_error="", consecutive_failures=0
        )
        if updated:  # else the rule was deleted during its tick: nothing left to record
            _record_tick(summary, now)


def _record_success_at_once(summary: Summary, now: datetime) -> None:
    """The status and the tick record in one statement (so one transaction, one trip)."""
    counts = summary.counts
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH rule AS (UPDATE {Rule._meta.db_table} SET last_run_at = %s, "
            "last_status = %s, last_error = '', consecutive_failures = 0 "
            "WHERE id = %s RETURNING id) "
            f"INSERT INTO {Tick._meta.db_table} (rule_id, at, status, scanned, matched, "
            "sampled_out, in_ledger, appended, duration_ms, error, sweep) "
            "SELECT id, %s, %s, %s, %s, %s, %s, %s, %s, '', %s FROM rule",
            [
                *(now, summary.status, summary.rule_id, now, summary.status),
                *(counts.scanned, counts.matched, counts.sampled_out, counts.in_ledger),
                *(counts.appended, summary.duration_ms, summary.sweep),
            ],
        )
    _prune_ticks(summary.rule_id)


def record_failure(summary: Summary, *, now: datetime) -> None:
    """In a fresh transaction: the error, one more failure, and at the limit, off."""
    with transaction.atomic():
        rule = Rule.objects.select_for_update().filter(pk=summary.rule_id).first()
        if rule is None:
            return
        rule.last_run_at = now
        rule.last_status = Status.ERROR
        rule.last_error = summary.error[:2000]
        rule.consecutive_failures += 1
        disable = rule.enabled and rule.consecutive_failures >= FAILURES_BEFORE_DISABLING
        if disable:
            rule.enabled = False
        rule.save()
        _record_tick(summary, now)
        if disable:
            _tell_editors(rule)


def _record_tick(summary: Summary, now: datetime) -> None:
    counts = summary.counts
    Tick.objects.create(
        rule_id=summary.rule_id,
        at=now,
        status=summary.status,
        scanned=counts.scanned,
        matched=counts.matched,
        sampled_out=counts.sampled_out,
        in_ledger=counts.in_ledger,
        appended=counts.appended,
        duration_ms=summary.duration_ms,
        error=summary.error[:2000],
        sweep=summary.sweep,
    )
    _prune_ticks(summary.rule_id)


def _prune_ticks(rule_id: int) -> None:
    # Pruned on one tick in a few (by chance, one in a fifth of those kept: tick ids are
    # shared by every rule, so no pattern of them would reach each rule), so a rule holds
    # a few more records than it shows; in one statement, walking the rule's newest ticks
    # on their index: the first one past those kept, and every older one, go.
    if random.randrange(max(1, TICKS_KEPT // 5)):
        return
    ticks = Tick.objects.filter(rule_id=rule_id)
    first_gone = ticks.order_by("-id").values("id")[TICKS_KEPT : TICKS_KEPT + 1]
    ticks.filter(id__lte=Subquery(first_gone)).delete()


def _tell_editors(rule: Rule) -> None:
    dataset = rule.dataset
    notify(
        team=dataset.team,
        action=Action.EDIT,
        kind=Kind.RULE_DISABLED,
        title=f"An auto-population rule of {dataset.name} was switched off",
        body=f"It failed {rule.consecutive_failures} times in a row. Last error: {rule.last_error}",
        url=reverse("datasets:dataset-detail", args=[dataset.pk]),
    )
