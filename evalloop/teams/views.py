from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from evalloop.teams import services
from evalloop.teams.decorators import team_view
from evalloop.teams.forms import LoginForm, TeamForm
from evalloop.teams.middleware import SESSION_KEY
from evalloop.teams.models import Team


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True


@login_required
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = services.create_team(
            slug=form.cleaned_data["slug"],
            name=form.cleaned_data["name"],
            owner=request.user,  # type: ignore[arg-type]
        )
        request.session[SESSION_KEY] = team.pk
        messages.success(request, f"Team {team.name} created.")
        return redirect("home")
    return render(request, "teams/team_create.html", {"form": form})


@login_required
@require_POST
def team_switch(request: HttpRequest) -> HttpResponse:
    team = get_object_or_404(Team.objects.for_user(request.user), slug=request.POST.get("team", ""))
    request.session[SESSION_KEY] = team.pk
    return redirect("home")


@team_view()
def settings_index(request: HttpRequest) -> HttpResponse:
    return render(request, "web/placeholder.html", {"title": "Settings"})
