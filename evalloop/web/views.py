from __future__ import annotations

from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from evalloop.notifications.models import Notification
from evalloop.teams import flags
from evalloop.teams.decorators import TeamRequest, team_view
from evalloop.teams.models import Membership, MembershipQuerySet
from evalloop.teams.permissions import Role
from evalloop.web import dashboard

UNREAD_SHOWN = 5


@team_view()
def home(request: TeamRequest) -> HttpResponse:
    """The team's dashboard: traffic, rule health, runs, trends, inbox, getting started."""
    team = request.team
    at = dashboard.periods(timezone.now())
    auto_populate = flags.is_active(team, flags.AUTO_POPULATE_DATASETS)
    unread = Notification.objects.for_team(team).for_user(request.user).unread()
    context = {
        "periods": at,
        "checklist": dashboard.checklist(team, request.role, auto_populate=auto_populate),
        "traffic": dashboard.traffic(team, at),
        "auto_populate": auto_populate,
        "rules": dashboard.rule_health(team, at) if auto_populate else None,
        "recent_runs": dashboard.recent_runs(team),
        "trends": dashboard.auto_run_trends(team),
        "unread_notifications": list(unread[:UNREAD_SHOWN]),
        "role_counts": _role_counts(Membership.objects.for_team(team)),
    }
    return render(request, "web/home.html", context)


def _role_counts(memberships: MembershipQuerySet) -> list[tuple[str, int]]:
    """Answer (role label, count) for each role the team has, owners first."""
    counts = dict(memberships.order_by().values_list("role").annotate(n=Count("id")))
    return [(label, counts[value]) for value, label in Role.choices if counts.get(value)]
