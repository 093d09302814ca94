"""What every rule page fetches the same way: behind the team flag, scoped to the team."""

from __future__ import annotations

from django.http import Http404

from evalloop.autopopulate.models import Rule
from evalloop.datasets.models import Dataset
from evalloop.teams import flags
from evalloop.teams.access import get_for_team_or_404
from evalloop.teams.decorators import TeamRequest


def get_dataset(request: TeamRequest, pk: int) -> Dataset:
    """The team's dataset; every rule page is a 404 while the team's flag is off."""
    if not flags.is_active(request.team, flags.AUTO_POPULATE_DATASETS):
        raise Http404("Not found.")
    return get_for_team_or_404(Dataset, request.team, pk=pk)


def get_rule(dataset: Dataset, rule_pk: int) -> Rule:
    rules = Rule.objects.filter(dataset=dataset).select_related("dataset__team", "chatbot")
    return get_for_team_or_404(rules, dataset.team, pk=rule_pk)
