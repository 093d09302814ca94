"""A rule's page: its settings, status and tick history, and "Run now"."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from evalloop.autopopulate import services
from evalloop.autopopulate.models import TICKS_KEPT, Status
from evalloop.autopopulate.tick import Summary, tick_rule
from evalloop.autopopulate.views.common import get_dataset, get_rule
from evalloop.teams.decorators import TeamRequest, team_view
from evalloop.teams.permissions import Action

NOT_RUN = "The rule is switched off, or a tick is taking it now; nothing was run."


@team_view()
def rule_detail(request: TeamRequest, pk: int, rule_pk: int) -> HttpResponse:
    dataset = get_dataset(request, pk)
    rule = get_rule(dataset, rule_pk)
    context = {
        "dataset": dataset,
        "rule": rule,
        "filter_words": services.rule_filter(rule).describe(),
        "rows_contributed": rule.rows.count(),
        "ticks": list(rule.ticks.order_by("-id")[:TICKS_KEPT]),
        "ticks_kept": TICKS_KEPT,
    }
    return render(request, "autopopulate/rule_detail.html", context)


@team_view(Action.EDIT)
@require_POST
def rule_run(request: TeamRequest, pk: int, rule_pk: int) -> HttpResponse:
    """One tick of the rule now; its summary comes back as a message."""
    rule = get_rule(get_dataset(request, pk), rule_pk)
    summary = tick_rule(rule_id=rule.pk)
    if summary is None:
        messages.error(request, NOT_RUN)
    elif summary.status == Status.ERROR:
        messages.error(request, f"The tick failed: {summary.error}")
    else:
        messages.success(request, said(summary))
    return redirect("autopopulate:rule-detail", pk=pk, rule_pk=rule.pk)


def said(summary: Summary) -> str:
    counts = summary.counts
    return (
        f"Tick done: {counts.appended} appended; {counts.scanned} scanned, {counts.matched} "
        f"matched, {counts.sampled_out} sampled out, {counts.in_ledger} already taken."
    )
