from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from evalloop.teams import flags, links, services
from evalloop.teams.access import get_for_team_or_404
from evalloop.teams.decorators import TeamRequest, team_view
from evalloop.teams.forms import (
    ApiKeyForm,
    FlagSwitchForm,
    LoginForm,
    MemberAddForm,
    RoleChangeForm,
    TeamForm,
    grantable_roles,
)
from evalloop.teams.middleware import SESSION_KEY
from evalloop.teams.models import ApiKey, Membership, Team
from evalloop.teams.permissions import ACTION_LABELS, ROLE_ACTIONS, Action, Role, can, may_manage


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form: LoginForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_invalid(form)
        if form.retry_after is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response


# -- teams ---------------------------------------------------------------------------------


@login_required
def team_create(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.create_team(
                slug=form.cleaned_data["slug"],
                name=form.cleaned_data["name"],
                owner=request.user,  # type: ignore[arg-type]
            )
        except ValidationError as exc:  # a team took the slug since the form checked it
            form.add_error(None, exc)
        else:
            request.session[SESSION_KEY] = team.pk
            messages.success(request, f"Team {team.name} created. You are its owner.")
            return redirect("home")
    first = not Team.objects.for_user(request.user).exists()
    return render(request, "teams/team_create.html", {"form": form, "first_team": first})


@login_required
@require_POST
def team_switch(request: HttpRequest) -> HttpResponse:
    team = get_object_or_404(Team.objects.for_user(request.user), slug=request.POST.get("team", ""))
    request.session[SESSION_KEY] = team.pk
    return redirect("home")


# -- settings: overview --------------------------------------------------------------------


@team_view()
def settings_index(request: TeamRequest) -> HttpResponse:
    team = request.team
    context = {
        "member_count": Membership.objects.for_team(team).count(),
        "active_key_count": ApiKey.objects.for_team(team).active().count(),
        "flags": flags.team_flags(team),
        "role_columns": [Role(role).label for role in TABLE_ROLES],
        "role_table": role_table(),
    }
    return render(request, "teams/settings.html", context)


TABLE_ROLES = list(reversed(Role.values))  # viewer first: each column adds to the one before


def role_table() -> list[tuple[str, list[bool]]]:
    """Answer one (action label, [allowed for each of TABLE_ROLES]) row per action."""
    return [(ACTION_LABELS[a], [a in ROLE_ACTIONS[r] for r in TABLE_ROLES]) for a in Action]


# -- settings: members ---------------------------------------------------------------------


@dataclass(frozen=True)
class MemberRow:
    membership: Membership
    editable: bool


def _member_rows(request: TeamRequest) -> list[MemberRow]:
    memberships = Membership.objects.for_team(request.team).by_rank()
    return [MemberRow(m, may_manage(request.role, m.role)) for m in memberships]


def _member_context(request: TeamRequest, **extra: object) -> dict[str, object]:
    may_write = can(request.role, Action.MANAGE_MEMBERS)
    return {
        "roles": grantable_roles(request.role),
        "may_write": may_write,
        "email_configured": bool(settings.EMAIL_HOST),
        **extra,
    }


@never_cache  # the answer to an addition may hold a set-password link
@team_view(Action.VIEW, write_methods=Action.MANAGE_MEMBERS)
def members(request: TeamRequest) -> HttpResponse:
    form = MemberAddForm(request.POST or None, actor_role=request.role)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.add_member(team=request.team, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)  # errors by field land on their fields
        else:
            if services.may_have_password_link(membership):
                return _password_link(request, membership, added=True)
            messages.success(request, f"{membership.user.email} joined as {membership.role}.")
            return redirect("settings-members")
    context = _member_context(request, form=form, rows=_member_rows(request))
    return render(request, "teams/members.html", context)


def _password_link(request: TeamRequest, membership: Membership, *, added: bool) -> HttpResponse:
    """Make a set-password link for the member, e-mail it if SMTP is set, show it once."""
    token = services.make_password_link(membership=membership)
    url = request.build_absolute_uri(reverse("set-password", args=[token]))
    context = {
        "membership": membership,
        "link": url,
        "added": added,
        "emailed": services.email_password_link(membership=membership, url=url),
        "expires_at": timezone.now() + links.MAX_AGE,
    }
    return render(request, "teams/member_link.html", context)


@never_cache
@team_view(Action.MANAGE_MEMBERS)
@require_POST
def member_link(request: TeamRequest, pk: int) -> HttpResponse:
    membership = _managed_membership(request, pk)
    try:
        return _password_link(request, membership, added=False)
    except services.TeamError as exc:
        messages.error(request, str(exc))
        return redirect("settings-members")


# -- set a password from a link --------------------------------------------------------------


@never_cache
@sensitive_post_parameters()
def set_password(request: HttpRequest, token: str) -> HttpResponse:
    """The page a set-password link opens: choose a password, then you are logged in."""
    if request.method != "POST":
        return _set_password(request, token)
    with transaction.atomic():  # one link posted twice at once: the second sees it used
        return _set_password(request, token, lock=True)


def _set_password(request: HttpRequest, token: str, *, lock: bool = False) -> HttpResponse:
    try:
        user = links.user_for_token(token, lock=lock)
    except links.BadLink as exc:
        return render(request, "registration/set_password.html", {"problem": exc}, status=400)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        auth_login(request, user)
        messages.success(request, "Your password is set, and you are logged in.")
        return redirect("home")
    return render(request, "registration/set_password.html", {"form": form, "account": user})


def _managed_membership(request: TeamRequest, pk: int) -> Membership:
    membership = get_for_team_or_404(Membership.objects.select_related("user"), request.team, pk=pk)
    if not may_manage(request.role, membership.role):
        raise PermissionDenied("Only owners may change or remove an owner.")
    return membership


@team_view(Action.MANAGE_MEMBERS)
@require_POST
def member_role(request: TeamRequest, pk: int) -> HttpResponse:
    membership = _managed_membership(request, pk)
    form = RoleChangeForm(request.POST, actor_role=request.role)
    error = _change_role(membership, form)
    if request.htmx:
        row = MemberRow(membership, may_manage(request.role, membership.role))
        context = _member_context(request, row=row, error=error, saved=error is None)
        return render(request, "teams/members.html#member-row", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"{membership.user.email} is now {membership.role}.")
    return redirect("settings-members")


def _change_role(membership: Membership, form: RoleChangeForm) -> str | None:
    """Change the role from `form`; answer an error message, or None."""
    if not form.is_valid():
        return "Choose one of the roles you may grant."
    try:
        services.change_role(membership=membership, role=form.cleaned_data["role"])
    except services.TeamError as exc:
        membership.refresh_from_db(fields=["role"])
        return str(exc)
    return None


@team_view(Action.MANAGE_MEMBERS)
def member_remove(request: TeamRequest, pk: int) -> HttpResponse:
    membership = _managed_membership(request, pk)
    if request.method != "POST":
        return render(request, "teams/member_remove.html", {"membership": membership})
    try:
        services.remove_member(membership=membership)
    except services.TeamError as exc:
        messages.error(request, str(exc))
        return redirect("settings-members")
    messages.success(request, f"{membership.user.email} was removed from {request.team.name}.")
    return redirect("home" if membership.user_id == request.user.pk else "settings-members")


# -- settings: API keys --------------------------------------------------------------------


@never_cache  # the answer to a creation holds the key's only plaintext copy
@team_view(Action.VIEW, write_methods=Action.MANAGE_API_KEYS)
def api_keys(request: TeamRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid():
        # Rendered in this answer, stored nowhere: after it, only the prefix remains.
        issued = services.create_api_key(
            team=request.team, created_by=request.user, **form.cleaned_data
        )
        form = ApiKeyForm()
    context = {
        "form": form,
        "issued": issued,
        "keys": ApiKey.objects.for_team(request.team).listed(),
        "may_write": can(request.role, Action.MANAGE_API_KEYS),
    }
    return render(request, "teams/api_keys.html", context)


@team_view(Action.MANAGE_API_KEYS)
def api_key_revoke(request: TeamRequest, pk: int) -> HttpResponse:
    api_key = get_for_team_or_404(ApiKey, request.team, pk=pk)
    if request.method != "POST":
        return render(request, "teams/api_key_revoke.html", {"api_key": api_key})
    services.revoke_api_key(api_key=api_key)
    messages.success(request, f"API key “{api_key.name}” revoked; calls with it now answer 401.")
    return redirect("settings-api-keys")


# -- settings: features --------------------------------------------------------------------


@team_view()
def features(request: TeamRequest) -> HttpResponse:
    context = {
        "flags": flags.team_flags(request.team),
        "may_write": can(request.role, Action.MANAGE_FLAGS),
    }
    return render(request, "teams/features.html", context)


@team_view(Action.MANAGE_FLAGS)
@require_POST
def feature_switch(request: TeamRequest, name: str) -> HttpResponse:
    flag = flags.CATALOGUE.get(name)
    if flag is None:
        raise Http404("No such feature.")
    form = FlagSwitchForm(request.POST)
    active = form.is_valid() and form.cleaned_data["active"]
    services.set_team_flag(team=request.team, name=name, active=active)
    if request.htmx:
        context = {"flag": flag, "on": active, "may_write": True, "saved": True}
        return render(request, "teams/features.html#flag-row", context)
    messages.success(request, f"{flag.label} is now {'on' if active else 'off'}.")
    return redirect("settings-features")
