from __future__ import annotations

from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import render

from evalloop.notifications.models import Notification
from evalloop.teams import flags
from evalloop.teams.decorators import TeamRequest, team_view
from evalloop.teams.models import ApiKey, Membership, MembershipQuerySet
from evalloop.teams.permissions import Role

RECENT_NOTIFICATIONS = 5


@team_view()
def home(request: TeamRequest) -> HttpResponse:
    team = request.team
    mine = Notification.objects.for_team(team).for_user(request.user)
    context = {
        "recent_notifications": list(mine[:RECENT_NOTIFICATIONS]),
        "role_counts": _role_counts(Membership.objects.for_team(team)),
        "active_key_count": ApiKey.objects.for_team(team).active().count(),
        "auto_populate": flags.is_active(team, flags.AUTO_POPULATE_DATASETS),
    }
    return render(request, "web/home.html", context)


def _role_counts(memberships: MembershipQuerySet) -> list[tuple[str, int]]:
    """Answer (role label, count) for each role the team has, owners first."""
    counts = dict(memberships.order_by().values_list("role").annotate(n=Count("id")))
    return [(label, counts[value]) for value, label in Role.choices if counts.get(value)]
