from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja.security import HttpBearer

from evalloop.teams import throttle
from evalloop.teams.models import ApiKey, Team
from evalloop.teams.permissions import Action, can
from evalloop.teams.services import authenticate_api_key


class ApiKeyAuth(HttpBearer):
    """`Authorization: Bearer <team API key>`: the key decides the team and the role."""

    openapi_description = "A team API key, created in Settings > API keys or with the CLI."

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        address, prefix = throttle.api_keys(request, token)
        throttle.check(address)  # Throttled answers 429 (api/errors.py)
        api_key = authenticate_api_key(token)
        if api_key is None:
            try:
                throttle.check(prefix)  # guesses at one key are refused; the key itself is not
            finally:
                throttle.record_failure(address + prefix)
            return None
        request.team = api_key.team  # type: ignore[attr-defined]
        request.role = api_key.role  # type: ignore[attr-defined]
        return api_key


def api_team(request: HttpRequest, action: Action = Action.VIEW) -> Team:
    """Answer the request's team after checking its key may perform `action` (403 if not)."""
    role: Any = getattr(request, "role", None)
    if not can(role, action):
        raise PermissionDenied(
            f"This API key's role ({role}) may not {action.value.replace('_', ' ')}."
        )
    team: Team = request.team  # type: ignore[attr-defined]
    return team
