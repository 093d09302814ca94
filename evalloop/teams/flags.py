"""Team feature flags: the catalogue of flags an admin can switch per team."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from evalloop.teams.models import Flag, Team

AUTO_POPULATE_DATASETS = "auto_populate_datasets"


@dataclass(frozen=True)
class TeamFlag:
    name: str
    label: str
    help_text: str

    @property
    def on_for_new_teams(self) -> bool:
        return bool(getattr(settings, f"EVALLOOP_{self.name.upper()}_DEFAULT", False)) or (
            self.name == AUTO_POPULATE_DATASETS and settings.EVALLOOP_AUTO_POPULATE_DEFAULT
        )


CATALOGUE: dict[str, TeamFlag] = {
    flag.name: flag
    for flag in [
        TeamFlag(
            name=AUTO_POPULATE_DATASETS,
            label="Auto-population of datasets",
            help_text="Rules that append fresh traffic to datasets. Off: rule pages and API "
            "answer 404 and ticks skip this team's rules.",
        ),
    ]
}


def is_active(team: Team, name: str) -> bool:
    """Answer whether flag `name` is on for `team` (works without a request, e.g. in tasks)."""
    flag = Flag.objects.filter(name=name).first()
    return flag is not None and flag.is_active_for_team(team)


def teams_active(team_ids: set[int], name: str) -> set[int]:
    """Answer which of `team_ids` have flag `name` on, in at most two queries."""
    flag = Flag.objects.filter(name=name).first()
    if flag is None or not team_ids:
        return set()
    if flag.everyone is not None:
        return set(team_ids) if flag.everyone else set()
    return set(flag.teams.filter(pk__in=team_ids).values_list("pk", flat=True))


def team_flags(team: Team) -> list[tuple[TeamFlag, bool]]:
    on = set(team.flags.values_list("name", flat=True))
    return [(flag, name in on) for name, flag in CATALOGUE.items()]
