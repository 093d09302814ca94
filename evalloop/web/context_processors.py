from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from evalloop.notifications.models import Notification
from evalloop.teams.models import Team
from evalloop.teams.permissions import Action, can


def shell(request: HttpRequest) -> dict[str, Any]:
    """What the base layout needs: the user's teams, the unread count, what the role may do."""
    team = getattr(request, "team", None)
    role = getattr(request, "role", None)
    if team is None or not request.user.is_authenticated:
        return {"current_team": None}
    user = request.user
    return {
        "current_team": team,
        "current_role": role,
        "may_edit": can(role, Action.EDIT),
        "may_admin": can(role, Action.MANAGE_MEMBERS),
        "user_teams": SimpleLazyObject(lambda: list(Team.objects.for_user(user))),
        "unread_count": SimpleLazyObject(
            lambda: Notification.objects.for_team(team).for_user(user).unread().count()
        ),
    }
