"""Config pages: the list, the form, a config with its run history, and its deletion."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpResponse
from django.shortcuts import redirect, render

from evalloop.lib.errors import Conflict
from evalloop.runs import services
from evalloop.runs.forms import ConfigForm
from evalloop.runs.models import Config, Run
from evalloop.runs.views.common import form_errors, get_config
from evalloop.teams.decorators import TeamRequest, team_view
from evalloop.teams.permissions import Action
from evalloop.web.htmx import render_page

RUNS_PER_PAGE = 25
DETAIL = "runs/config_detail.html"


def listed_configs(request: TeamRequest) -> QuerySet[Config]:
    """The team's configs with dataset, evaluators and last run, in a fixed number of queries."""
    last = Run.objects.filter(config=OuterRef("pk")).order_by("-id")
    return (
        Config.objects.for_team(request.team)
        .select_related("dataset")
        .prefetch_related("evaluators")
        .annotate(
            last_run_id=Subquery(last.values("id")[:1]),
            last_run_status=Subquery(last.values("status")[:1]),
        )
    )


@team_view()
def config_list(request: TeamRequest) -> HttpResponse:
    return render(request, "runs/config_list.html", {"configs": listed_configs(request)})


def _save(request: TeamRequest, form: ConfigForm, config: Config | None) -> Config | None:
    try:
        if config is None:
            return services.create_config(
                team=request.team, created_by=request.user, **form.cleaned_data
            )
        return services.update_config(config=config, **form.cleaned_data)
    except (ValidationError, Conflict) as exc:
        form_errors(form, exc)
    return None


def _config_form(request: TeamRequest, config: Config | None) -> HttpResponse:
    initial = ConfigForm.initial_for(config) if config else {}
    form = ConfigForm(request.POST or None, initial=initial, team=request.team)
    if request.method == "POST" and form.is_valid():
        saved = _save(request, form, config)
        if saved is not None:
            messages.success(request, f"Config {saved.name} saved.")
            return redirect("runs:config-detail", pk=saved.pk)
    return render(request, "runs/config_form.html", {"form": form, "config": config})


@team_view(Action.EDIT)
def config_create(request: TeamRequest) -> HttpResponse:
    return _config_form(request, None)


@team_view(Action.EDIT)
def config_edit(request: TeamRequest, pk: int) -> HttpResponse:
    return _config_form(request, get_config(request, pk))


def history_page(request: TeamRequest, config: Config) -> Page[Run]:
    return Paginator(config.runs.order_by("-id"), RUNS_PER_PAGE).get_page(request.GET.get("page"))


def history_poll(config: Config, runs: Page[Run]) -> str:
    """How often the history refreshes itself ("" for never), as an htmx interval."""
    if any(not run.is_finished for run in runs):
        return "2s"
    if config.auto_run_on_append and runs.number == 1:
        return "10s"  # a rule's append starts a delta run at any time
    return ""


@team_view()
def config_detail(request: TeamRequest, pk: int) -> HttpResponse:
    """The config and its run history, which htmx refreshes while runs may change."""
    config = get_config(request, pk)
    runs = history_page(request, config)
    context: dict[str, Any] = {
        "config": config,
        "runs": runs,
        "polling": history_poll(config, runs),
    }
    return render_page(request, DETAIL, context, partial="history")


@team_view(Action.EDIT)
def config_delete(request: TeamRequest, pk: int) -> HttpResponse:
    config = get_config(request, pk)
    if request.method != "POST":
        runs = config.runs.count()
        return render(request, "runs/config_delete.html", {"config": config, "run_count": runs})
    try:
        services.delete_config(config=config)
    except Conflict as exc:
        messages.error(request, f"{config.name} was not deleted: {exc}")
        return redirect("runs:config-detail", pk=config.pk)
    messages.success(request, f"Config {config.name} deleted.")
    return redirect("runs:config-list")
