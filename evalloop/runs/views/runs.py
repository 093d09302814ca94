"""Run pages: start a run, its aggregates and results, cancel, re-run failed, CSV export."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRefresh

from evalloop.evaluators.models import EvaluatorVersion
from evalloop.lib.errors import Conflict
from evalloop.runs import export, grid, services
from evalloop.runs.aggregates import run_aggregates
from evalloop.runs.forms import StartRunForm
from evalloop.runs.models import Aggregate, Config, Run, RunStatus, RunType, Trigger
from evalloop.runs.views.common import get_config, get_run
from evalloop.teams.decorators import TeamRequest, team_view
from evalloop.teams.permissions import Action
from evalloop.web.htmx import render_page

DETAIL = "runs/run_detail.html"
PAGE_SIZES = (25, 50, 100)


def _start(request: TeamRequest, config: Config, data: dict[str, Any]) -> Run:
    options = {"sample_size": data["sample_size"]} if data["sample_size"] else {}
    return services.start_run(
        config=config,
        type=RunType(data["type"]),
        trigger=Trigger.USER,
        triggered_by=request.user,
        trigger_label=request.user.email,
        **options,
    )


@team_view(Action.EDIT)
@require_POST
def run_start(request: TeamRequest, pk: int) -> HttpResponse:
    config = get_config(request, pk)
    form = StartRunForm(request.POST)
    if not form.is_valid():
        problems = form.errors.get("sample_size") or ["Choose a full run or a preview."]
        problem = " ".join(str(each) for each in problems)
        messages.error(request, f"No run started: {problem}")
        return redirect("runs:config-detail", pk=config.pk)
    try:
        run = _start(request, config, form.cleaned_data)
    except (ValidationError, Conflict) as exc:
        text = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, f"No run started: {text}")
        return redirect("runs:config-detail", pk=config.pk)
    return redirect("runs:run-detail", pk=run.pk)


@dataclass(frozen=True)
class VersionSummary:
    """The aggregates of one evaluator version of a run, one per output field."""

    version: EvaluatorVersion
    aggregates: list[Aggregate]

    @property
    def errors(self) -> int:
        return max((each.errors for each in self.aggregates), default=0)


def summaries(run: Run) -> list[VersionSummary]:
    found: dict[int, VersionSummary] = {}
    for each in run_aggregates(run):
        summary = found.setdefault(each.version_id, VersionSummary(each.version, []))
        summary.aggregates.append(each)
    return list(found.values())


def awaiting(run: Run) -> bool:
    """Whether the run page should poll: unfinished, or completed and aggregating."""
    return not run.is_finished or (run.status == RunStatus.COMPLETED and run.finalized_at is None)


def page_size(request: TeamRequest) -> int:
    try:
        size = int(request.GET.get("size", PAGE_SIZES[0]))
    except ValueError:
        return PAGE_SIZES[0]
    return size if size in PAGE_SIZES else PAGE_SIZES[0]


def results_page(request: TeamRequest, run: Run) -> Page[Any]:
    return Paginator(grid.plan_rows(run), page_size(request)).get_page(request.GET.get("page"))


@team_view()
def run_detail(request: TeamRequest, pk: int) -> HttpResponse:
    """Aggregates on top, results below; htmx polls the summary and reloads once it is final."""
    run = get_run(request, pk)
    if request.htmx and not awaiting(run):
        return HttpResponseClientRefresh()
    context: dict[str, Any] = {"run": run, "summaries": summaries(run), "polling": awaiting(run)}
    if request.htmx:
        return render_page(request, DETAIL, context, partial="summary")
    cols = grid.columns(run)
    page = results_page(request, run)
    plan = list(page)
    context |= {
        "columns": cols,
        "page": page,
        "lines": list(grid.lines(plan, cols, grid.places(plan))),
    }
    context["size"] = page_size(request)
    return render(request, DETAIL, context)


def _act(request: TeamRequest, pk: int, act: Callable[[Run], object], done: str) -> HttpResponse:
    run = get_run(request, pk)
    try:
        act(run)
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("runs:run-detail", pk=run.pk)


@team_view(Action.EDIT)
@require_POST
def run_cancel(request: TeamRequest, pk: int) -> HttpResponse:
    return _act(request, pk, lambda run: services.cancel_run(run=run), "Run cancelled.")


@team_view(Action.EDIT)
@require_POST
def run_rerun_failed(request: TeamRequest, pk: int) -> HttpResponse:
    def rerun(run: Run) -> object:
        return services.rerun_failed(run=run, triggered_by=request.user)

    return _act(request, pk, rerun, "Failed pairs are being evaluated again.")


@team_view()
def run_csv(request: TeamRequest, pk: int) -> HttpResponse:
    # Streamed: not an HttpResponse subclass, though views may answer it all the same.
    return export.download_response(get_run(request, pk))  # type: ignore[return-value]
