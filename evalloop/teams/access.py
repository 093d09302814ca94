"""The tenant choke point: every view and endpoint fetches team objects through here."""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404

from evalloop.lib.inputs import text_problem, valid_id
from evalloop.teams.models import Team
from evalloop.teams.permissions import Action, can

M = TypeVar("M", bound=models.Model)


def team_objects(model_or_queryset: type[M] | models.QuerySet[M], team: Team) -> models.QuerySet[M]:
    """Answer the objects of `team`, through the model's `for_team()` queryset method."""
    queryset = (
        model_or_queryset
        if isinstance(model_or_queryset, models.QuerySet)
        else model_or_queryset._default_manager.all()
    )
    return queryset.for_team(team)  # type: ignore[attr-defined]


def get_for_team_or_404(
    model_or_queryset: type[M] | models.QuerySet[M], team: Team, **lookup: Any
) -> M:
    """Answer one object of `team`; another team's object (or none) is a 404."""
    if not all(check_id(value) for value in lookup.values()):
        raise Http404("Not found.")
    try:
        return team_objects(model_or_queryset, team).get(**lookup)
    except (models.ObjectDoesNotExist, ValueError, TypeError):
        raise Http404("Not found.") from None


def check_id(value: Any) -> bool:
    """Whether a looked-up value can be in the database: an id within 64 bits, storable text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return valid_id(value)
    return not isinstance(value, str) or text_problem(value) is None


def require(role: str | None, action: Action) -> None:
    """Raise PermissionDenied unless `role` may perform `action`."""
    if not can(role, action):
        raise PermissionDenied(f"Your role may not {action.value.replace('_', ' ')}.")
