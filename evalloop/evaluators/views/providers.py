"""Settings > Providers: members see the team's LLM providers, admins manage them."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from evalloop.evaluators import provider_services as services
from evalloop.evaluators.models import Evaluator, Provider
from evalloop.evaluators.provider_forms import ProviderForm
from evalloop.lib.errors import Conflict, add_conflict
from evalloop.teams.access import get_for_team_or_404
from evalloop.teams.decorators import TeamRequest, team_view
from evalloop.teams.models import Team
from evalloop.teams.permissions import Action, can


def _form_errors(form: ProviderForm, exc: ValidationError | Conflict) -> None:
    if isinstance(exc, Conflict):
        add_conflict(form, exc)
    else:
        form.add_error(None, exc)  # errors by field land on their fields


def _users(team: Team) -> dict[int, list[str]]:
    """Names of the evaluators using each provider, in one query."""
    judges = Evaluator.objects.for_team(team).filter(kind=services.JUDGE_KIND)
    users: dict[int, list[str]] = defaultdict(list)
    for provider_id, name in judges.values_list("params__provider", "name"):
        if isinstance(provider_id, int):
            users[provider_id].append(name)
    return users


@never_cache  # a refused form must never be served again from a cache
@team_view(Action.VIEW, write_methods=Action.MANAGE_PROVIDERS)
def provider_list(request: TeamRequest) -> HttpResponse:
    form = ProviderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            provider = services.create_provider(team=request.team, **form.cleaned_data)
        except (ValidationError, Conflict) as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Provider {provider.name} added.")
            return redirect("evaluators:providers")
    users = _users(request.team)
    providers = [(p, users.get(p.pk, [])) for p in Provider.objects.for_team(request.team)]
    context = {
        "form": form,
        "providers": providers,
        "may_write": can(request.role, Action.MANAGE_PROVIDERS),
    }
    return render(request, "evaluators/providers.html", context)


@never_cache
@team_view(Action.MANAGE_PROVIDERS)
def provider_edit(request: TeamRequest, pk: int) -> HttpResponse:
    provider = get_for_team_or_404(Provider, request.team, pk=pk)
    form = ProviderForm(request.POST or None, provider=provider)
    if request.method == "POST" and form.is_valid():
        values = {k: v for k, v in form.cleaned_data.items() if k != "kind"}
        values["api_key"] = values["api_key"] or None  # empty keeps the key
        try:
            services.update_provider(provider=provider, **values)
        except (ValidationError, Conflict) as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, f"Provider {provider.name} saved.")
            return redirect("evaluators:providers")
    return render(request, "evaluators/providers_edit.html", {"provider": provider, "form": form})


@team_view(Action.MANAGE_PROVIDERS)
def provider_delete(request: TeamRequest, pk: int) -> HttpResponse:
    provider = get_for_team_or_404(Provider, request.team, pk=pk)
    if request.method != "POST":
        context = {"provider": provider, "users": services.evaluators_using(provider)}
        return render(request, "evaluators/providers_delete.html", context)
    try:
        services.delete_provider(provider=provider)
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Provider {provider.name} deleted.")
    return redirect("evaluators:providers")
