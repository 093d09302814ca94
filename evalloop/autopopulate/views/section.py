"""The dataset page's rules section, and what its controls do: switch on or off, delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from evalloop.autopopulate import services
from evalloop.autopopulate.models import Rule
from evalloop.autopopulate.progress import Progress, backfill_progress
from evalloop.autopopulate.views.common import get_dataset, get_rule
from evalloop.datasets.models import Dataset
from evalloop.teams.decorators import TeamRequest, team_view
from evalloop.teams.permissions import Action, can

SECTION = "autopopulate/_section.html"


@dataclass(frozen=True)
class Listed:
    """One rule of the section: the rule, its filter in words, and its backfill progress."""

    rule: Rule
    filter_words: list[str]
    progress: Progress | None


def section_context(dataset: Dataset, *, may_edit: bool) -> dict[str, Any]:
    """The section's rules with their rows contributed and progress, in two queries at most."""
    rules = list(
        Rule.objects.filter(dataset=dataset).select_related("chatbot").with_rows_contributed()
    )
    progress = backfill_progress(rules, team_id=dataset.team_id, now=timezone.now())
    listed = [
        Listed(rule, services.rule_filter(rule).describe(), progress.get(rule.pk)) for rule in rules
    ]
    return {"dataset": dataset, "listed": listed, "may_edit": may_edit}


@team_view()
def rules_section(request: TeamRequest, pk: int) -> HttpResponse:
    """The section alone, which the dataset page polls while it is visible."""
    dataset = get_dataset(request, pk)
    return render(request, SECTION, section_context(dataset, may_edit=_may_edit(request)))


def _may_edit(request: TeamRequest) -> bool:
    return can(request.role, Action.EDIT)


def back_to_dataset(dataset: Dataset) -> HttpResponse:
    url = reverse("datasets:dataset-detail", args=[dataset.pk])
    return redirect(f"{url}#auto-population-rules")


@team_view(Action.EDIT)
def rule_enabled(request: TeamRequest, pk: int, rule_pk: int) -> HttpResponse:
    """Switch a rule on or off (POST `enabled` = on or off); htmx gets the rule's entry back."""
    dataset = get_dataset(request, pk)
    rule = get_rule(dataset, rule_pk)
    if request.method != "POST":
        return back_to_dataset(dataset)
    services.set_enabled(rule=rule, enabled=request.POST.get("enabled") == "on")
    if not request.htmx:
        return back_to_dataset(dataset)
    context = section_context(dataset, may_edit=True)
    entry = next((listed for listed in context["listed"] if listed.rule.pk == rule.pk), None)
    if entry is None:  # deleted meanwhile: its entry goes, as when it is deleted here
        return HttpResponse("")
    return render(request, f"{SECTION}#rule", context | {"entry": entry})


@team_view(Action.EDIT)
def rule_delete(request: TeamRequest, pk: int, rule_pk: int) -> HttpResponse:
    """GET asks; POST (a plain form) or DELETE (htmx) deletes. The rows it added stay.

    htmx gets an empty answer, which replaces the rule's whole entry (its error banner
    included); a plain form goes back to the dataset. A rule already gone is not an error.
    """
    dataset = get_dataset(request, pk)
    try:
        rule: Rule | None = get_rule(dataset, rule_pk)
    except Http404:
        rule = None
    if request.method not in ("POST", "DELETE"):
        if rule is None:
            raise Http404("Not found.")
        return render(request, "autopopulate/rule_delete.html", {"dataset": dataset, "rule": rule})
    if rule is not None:
        services.delete_rule(rule=rule)
    if request.htmx:
        return HttpResponse("")
    if rule is None:
        messages.info(request, "That rule was already deleted.")
    else:
        messages.success(request, "Rule deleted; the rows it added stay in the dataset.")
    return back_to_dataset(dataset)
