"""The rule form: the sessions list's filter builder, the fields, a live preview, and a
confirmation before a rule backfills.

The builder works as on the sessions list: adding or removing a clause reloads the page with
the filter in its URL, carrying what the form holds along (`draft` marks such a URL). The
form itself carries its filter in its body (one hidden `f` per clause), so saving and the
preview never depend on the URL's length; editing a rule starts from the rule's own filter.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from evalloop.autopopulate import services
from evalloop.autopopulate.forms import FIELDS, RuleForm
from evalloop.autopopulate.models import Rule
from evalloop.autopopulate.preview import Preview, is_backfill, preview_rule
from evalloop.autopopulate.views.common import get_dataset, get_rule
from evalloop.autopopulate.views.section import back_to_dataset
from evalloop.datasets.models import Dataset
from evalloop.filters import FilterError, FilterState, Target, read_filter_request
from evalloop.filters.language import PARAM
from evalloop.runs.views.common import form_errors
from evalloop.teams.decorators import TeamRequest, team_view
from evalloop.teams.permissions import Action

FORM = "autopopulate/rule_form.html"
PREVIEW = "autopopulate/_preview.html"
DRAFT = "draft"  # in a URL: the form's fields come from the query string
CARRIED = tuple(name for name in FIELDS if name != "enabled")  # always in a carried form


@team_view(Action.EDIT)
def rule_create(request: TeamRequest, pk: int) -> HttpResponse:
    return _form(request, get_dataset(request, pk), None)


@team_view(Action.EDIT)
def rule_edit(request: TeamRequest, pk: int, rule_pk: int) -> HttpResponse:
    dataset = get_dataset(request, pk)
    return _form(request, dataset, get_rule(dataset, rule_pk))


@team_view(Action.VIEW)
@require_POST
def rule_preview(request: TeamRequest, pk: int, rule_pk: int | None = None) -> HttpResponse:
    """The preview panel for what the form holds (htmx posts it on every change).

    It writes nothing, so viewers may ask for it, as through the API.
    """
    dataset = get_dataset(request, pk)
    rule = get_rule(dataset, rule_pk) if rule_pk is not None else None
    state = filter_state(request, rule)
    form = RuleForm(request.POST, team=request.team, rule=rule)
    return render(request, PREVIEW, preview_panel(form, state, dataset, rule))


def filter_state(request: TeamRequest, rule: Rule | None) -> FilterState:
    """The form's filter: a post's own clauses; else the URL's, or the rule's when editing
    starts (no clause or draft in the URL). The builder's links and form carry `draft`, so
    removing a rule's last clause leaves no clause rather than the rule's."""
    if request.method == "POST":
        query = QueryDict(mutable=True)
        query.setlist(PARAM, request.POST.getlist(PARAM))
    elif rule is not None and DRAFT not in request.GET and PARAM not in request.GET:
        query = QueryDict(mutable=True)
        query.setlist(PARAM, services.rule_filter(rule).encoded())
    else:
        query = request.GET.copy()
    query.setdefault(DRAFT, "1")
    return read_filter_request(request, target=Target.SESSION, query=query)


def _form(request: TeamRequest, dataset: Dataset, rule: Rule | None) -> HttpResponse:
    state = filter_state(request, rule)
    if state.redirect_to and request.method == "GET":
        return redirect(state.redirect_to)
    data = request.POST if request.method == "POST" else None
    form = RuleForm(data, initial=_initial(request, rule), team=request.team, rule=rule)
    context: dict[str, Any] = {"dataset": dataset, "rule": rule, "form": form}
    if data is not None and form.is_valid():
        saved, confirm = _save_or_ask(form, state, dataset, rule)
        if saved is not None:
            messages.success(request, f"Rule {'saved' if rule else 'created'}.")
            return back_to_dataset(dataset)
        context["confirm"] = confirm
    shown = form if form.is_bound else RuleForm(_as_data(form), team=request.team, rule=rule)
    context |= {"filter_state": state, **preview_panel(shown, state, dataset, rule)}
    return render(request, FORM, context)


def _initial(request: TeamRequest, rule: Rule | None) -> dict[str, Any]:
    """What an unbound form shows: the rule's values (or the defaults), with what the builder
    carried along over them. `enabled` is read only from a draft that carries the whole form,
    so a bare `draft` URL never switches a rule off."""
    start = RuleForm.initial_for(rule) if rule else {}
    if DRAFT not in request.GET:
        return start
    given: dict[str, Any] = {name: request.GET[name] for name in FIELDS if name in request.GET}
    if all(name in request.GET for name in CARRIED):
        given["enabled"] = "enabled" in request.GET
    return start | given


def _as_data(form: RuleForm) -> dict[str, Any]:
    return {name: form[name].value() for name in form.fields}


# Saving, after a confirmation when the rule would backfill


def _draft(form: RuleForm, state: FilterState, dataset: Dataset, rule: Rule | None) -> Rule:
    """The rule the form holds; a ValidationError names the filter's and the fields' faults."""
    errors = (
        {"filter": [f"Fix the filter first: {e}" for e in state.errors]} if state.errors else {}
    )
    try:
        draft = services.draft_rule(
            dataset=dataset, rule=rule, **form.rule_fields(state.filter.to_json())
        )
    except ValidationError as exc:
        raise ValidationError(errors | exc.message_dict) from None
    if errors:
        raise ValidationError(errors)
    return draft


def _save_or_ask(
    form: RuleForm, state: FilterState, dataset: Dataset, rule: Rule | None
) -> tuple[Rule | None, dict[str, Any] | None]:
    """The saved rule; or, when it would backfill unconfirmed, what to confirm."""
    try:
        draft = _draft(form, state, dataset, rule)
        if _needs_confirmation(draft, rule) and form.cleaned_data["confirm"] != fingerprint(draft):
            return None, {"preview": preview_rule(rule=draft), "fingerprint": fingerprint(draft)}
        return _save(form, dataset, rule, draft), None
    except ValidationError as exc:
        form_errors(form, exc)
    except FilterError as exc:
        form.add_error(None, exc.messages())
    return None, None


def _changes(draft: Rule, rule: Rule | None) -> dict[str, Any]:
    changed = {name: getattr(draft, name) for name in services.EDITABLE}
    if rule is None:
        return changed
    return {name: value for name, value in changed.items() if getattr(rule, name) != value}


def _needs_confirmation(draft: Rule, rule: Rule | None) -> bool:
    return is_backfill(draft, timezone.now()) and bool(_changes(draft, rule))


def fingerprint(draft: Rule) -> str:
    """What a confirmation confirms: a change of any of these asks again."""
    taken = [draft.chatbot_id, draft.filter, draft.completion, draft.idle_minutes]
    taken += [draft.sample_rate, draft.start_at.isoformat()]
    return hashlib.sha256(json.dumps(taken, default=str).encode()).hexdigest()[:20]


def _save(form: RuleForm, dataset: Dataset, rule: Rule | None, draft: Rule) -> Rule:
    enabled = form.cleaned_data["enabled"]
    if rule is None:
        return services.create_rule(dataset=dataset, enabled=enabled, **_changes(draft, None))
    changes = _changes(draft, rule)
    if changes:
        rule = services.update_rule(rule=rule, **changes)
    if enabled != rule.enabled:
        rule = services.set_enabled(rule=rule, enabled=enabled)
    return rule


# The preview panel


def preview_panel(
    form: RuleForm, state: FilterState, dataset: Dataset, rule: Rule | None
) -> dict[str, Any]:
    """The live preview of what the form holds, or what keeps it from being shown."""
    preview: Preview | None = None
    problems: list[str] = []
    if not form.is_valid():
        problems = [_problem(form, name, form.errors.get_json_data()[name]) for name in form.errors]
    else:
        try:
            preview = preview_rule(rule=_draft(form, state, dataset, rule))
        except ValidationError as exc:
            problems = _messages(form, exc)
        except FilterError as exc:
            problems = exc.messages()
    return {"preview": preview, "problems": problems, "dataset": dataset}


def _problem(form: RuleForm, name: str, errors: list[dict[str, str]]) -> str:
    return _named(form, name, [error["message"] for error in errors])


def _named(form: RuleForm, name: str, messages: list[str]) -> str:
    """The messages after the field's label; those of the whole form alone."""
    label = form.fields[name].label if name in form.fields else None
    if label is None and name != NON_FIELD_ERRORS:
        label = name
    return f"{label}: {' '.join(messages)}" if label else " ".join(messages)


def _messages(form: RuleForm, exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [_named(form, name, errors) for name, errors in exc.message_dict.items()]
    return list(exc.messages)
