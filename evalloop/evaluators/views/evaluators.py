"""Evaluator pages: the list, the form, a page with versions and the test panel, deletion."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from evalloop.evaluators import services
from evalloop.evaluators.forms import PREFIX, EvaluatorForm, TryRowForm, kind_help
from evalloop.evaluators.kinds import REGISTRY, get_kind
from evalloop.evaluators.models import Evaluator
from evalloop.lib.errors import Conflict, Invalid
from evalloop.lib.inputs import parse_json
from evalloop.teams.access import get_for_team_or_404
from evalloop.teams.decorators import TeamRequest, team_view
from evalloop.teams.permissions import Action
from evalloop.web.htmx import render_page

FORM = "evaluators/evaluator_form.html"
DETAIL = "evaluators/evaluator_detail.html"
VERSIONS_SHOWN = 50


def _evaluator(request: TeamRequest, pk: int) -> Evaluator:
    return get_for_team_or_404(Evaluator.objects.select_related("version"), request.team, pk=pk)


@team_view()
def evaluator_list(request: TeamRequest) -> HttpResponse:
    evaluators = Evaluator.objects.for_team(request.team).select_related("version")
    labels = {name: get_kind(name).label for name in REGISTRY}
    rows = [(evaluator, labels.get(evaluator.kind, evaluator.kind)) for evaluator in evaluators]
    context = {"rows": rows}
    return render(request, "evaluators/evaluator_list.html", context)


# The form


def _chosen_kind(request: TeamRequest, evaluator: Evaluator | None) -> str:
    """The kind whose fields the form shows: the one picked, else the evaluator's."""
    picked = request.POST.get("kind") or request.GET.get("kind")
    if picked in REGISTRY:
        return str(picked)
    if evaluator is not None and evaluator.kind in REGISTRY:
        return evaluator.kind
    return next(iter(REGISTRY))


def _initial(request: TeamRequest, evaluator: Evaluator | None, kind: str) -> dict[str, Any]:
    """What an unbound form shows: the evaluator's values, then what the page sent on a switch."""
    initial: dict[str, Any] = {"kind": kind}
    if evaluator is not None:
        initial |= {"name": evaluator.name, "description": evaluator.description}
        if _takes_schema(kind) and _takes_schema(evaluator.kind):
            initial["output_schema"] = evaluator.output_schema
        if evaluator.kind == kind:
            initial |= {PREFIX + key: value for key, value in evaluator.params.items()}
    for key in ("name", "description"):
        if key in request.GET:
            initial[key] = request.GET[key]
    initial |= _typed_schema(request.GET.get("output_schema", ""))
    return initial


def _takes_schema(kind: str) -> bool:
    return kind in REGISTRY and get_kind(kind).fixed_schema is None


def _typed_schema(text: str) -> dict[str, Any]:
    try:
        return {"output_schema": parse_json(text)} if text.strip() else {}
    except ValueError:
        return {}


def _save(
    form: EvaluatorForm, request: TeamRequest, evaluator: Evaluator | None
) -> Evaluator | None:
    try:
        if evaluator is None:
            return services.create_evaluator(team=request.team, **form.values())
        return services.update_evaluator(evaluator=evaluator, **form.values())
    except (Invalid, Conflict) as exc:
        form.add_problems(exc)
        return None


def _form(request: TeamRequest, evaluator: Evaluator | None) -> HttpResponse:
    kind = _chosen_kind(request, evaluator)
    data = request.POST if request.method == "POST" else None
    initial = _initial(request, evaluator, kind)
    form = EvaluatorForm(data, team=request.team, kind=kind, initial=initial)
    if data is not None and form.is_valid():
        saved = _save(form, request, evaluator)
        if saved is not None:
            messages.success(request, f"Evaluator {saved.name} saved.")
            return redirect("evaluators:evaluator-detail", pk=saved.pk)
    context = {"form": form, "evaluator": evaluator}
    return render_page(request, FORM, context, partial="fields")


@team_view(Action.EDIT)
def evaluator_create(request: TeamRequest) -> HttpResponse:
    return _form(request, None)


@team_view(Action.EDIT)
def evaluator_edit(request: TeamRequest, pk: int) -> HttpResponse:
    return _form(request, _evaluator(request, pk))


# One evaluator


def _detail(request: TeamRequest, evaluator: Evaluator, **extra: Any) -> dict[str, Any]:
    kind = get_kind(evaluator.kind) if evaluator.kind in REGISTRY else None
    return {
        "evaluator": evaluator,
        "kind": kind,
        "kind_help": kind_help(kind) if kind else "",
        "versions": list(evaluator.versions.all()[:VERSIONS_SHOWN]),
        "test_form": TryRowForm(team=request.team),
        **extra,
    }


@team_view()
def evaluator_detail(request: TeamRequest, pk: int) -> HttpResponse:
    evaluator = _evaluator(request, pk)
    return render(request, DETAIL, _detail(request, evaluator))


@team_view(Action.EDIT)
@require_POST
def evaluator_test(request: TeamRequest, pk: int) -> HttpResponse:
    """Evaluate one row with the current version and show the outcome; nothing is stored."""
    evaluator = _evaluator(request, pk)
    form = TryRowForm(request.POST, team=request.team)
    outcome = None
    if form.is_valid():
        try:
            outcome = services.test_evaluator(evaluator=evaluator, row=form.row_data())
        except Invalid as exc:
            form.add_error(None, str(exc))
    context = _detail(request, evaluator, test_form=form, outcome=outcome)
    return render_page(request, DETAIL, context, partial="test")


@team_view(Action.EDIT)
def evaluator_delete(request: TeamRequest, pk: int) -> HttpResponse:
    evaluator = _evaluator(request, pk)
    problem = None
    if request.method == "POST":
        try:
            services.delete_evaluator(evaluator=evaluator)
        except Conflict as exc:
            problem = str(exc)
        else:
            messages.success(request, f"Evaluator {evaluator.name} deleted.")
            return redirect("evaluators:evaluator-list")
    context = {"evaluator": evaluator, "problem": problem}
    return render(
        request, "evaluators/evaluator_delete.html", context, status=409 if problem else 200
    )
