"""What every evaluation page fetches the same way."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.forms import Form

from evalloop.lib.errors import Conflict, add_conflict
from evalloop.runs.models import Config, Run
from evalloop.teams.access import get_for_team_or_404
from evalloop.teams.decorators import TeamRequest


def get_config(request: TeamRequest, pk: int) -> Config:
    configs = Config.objects.select_related("dataset").prefetch_related("evaluators")
    return get_for_team_or_404(configs, request.team, pk=pk)


def get_run(request: TeamRequest, pk: int) -> Run:
    return get_for_team_or_404(Run.objects.select_related("config__dataset"), request.team, pk=pk)


def form_errors(form: Form, exc: ValidationError | Conflict) -> None:
    """Show a service's refusal on the form: on the field it names, or above the form."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
        return
    if isinstance(exc, Conflict):
        add_conflict(form, exc)
        return
    for message in exc.messages:
        form.add_error(None, message)
