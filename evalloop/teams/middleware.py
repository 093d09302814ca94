from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from evalloop.teams.models import Membership

SESSION_KEY = "evalloop_team_id"


def current_membership(request: HttpRequest) -> Membership | None:
    """Answer the member's chosen team membership, falling back to their first team."""
    if not request.user.is_authenticated:
        return None
    memberships = Membership.objects.filter(user=request.user).select_related("team")
    chosen = request.session.get(SESSION_KEY)
    membership = memberships.filter(team_id=chosen).first() if chosen else None
    return membership or memberships.order_by("team__name").first()


class CurrentTeamMiddleware:
    """Sets request.team, request.membership and request.role for logged-in members."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            return self.get_response(request)  # API calls act for the key's team
        membership = current_membership(request)
        request.membership = membership  # type: ignore[attr-defined]
        request.team = membership.team if membership else None  # type: ignore[attr-defined]
        request.role = membership.role if membership else None  # type: ignore[attr-defined]
        return self.get_response(request)
