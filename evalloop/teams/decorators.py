from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_htmx.middleware import HtmxDetails

from evalloop.teams.access import require
from evalloop.teams.models import Membership, Team, User
from evalloop.teams.permissions import Action

F = TypeVar("F", bound=Callable[..., HttpResponse])


class TeamRequest(HttpRequest):
    """An HttpRequest on which CurrentTeamMiddleware found a membership."""

    user: User
    team: Team
    membership: Membership
    role: str
    htmx: HtmxDetails


def team_view(
    action: Action = Action.VIEW, *, write_methods: Action | None = None
) -> Callable[[F], F]:
    """Require a logged-in member of the current team who may perform `action`.

    With `write_methods`, GET and HEAD need `action` and every other method needs
    `write_methods`, so one view can show a page to viewers and take edits from editors.
    """

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if getattr(request, "team", None) is None:
                return redirect("team-create")
            needed = action
            if write_methods is not None and request.method not in ("GET", "HEAD"):
                needed = write_methods
            require(getattr(request, "role", None), needed)
            return view(request, *args, **kwargs)

        return login_required(wrapper)  # type: ignore[return-value]

    return decorator
