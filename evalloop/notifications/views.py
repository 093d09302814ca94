from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from evalloop.notifications import services
from evalloop.notifications.models import Notification
from evalloop.teams.access import get_for_team_or_404
from evalloop.teams.decorators import TeamRequest, team_view

PAGE_SIZE = 50

# Marking one's own notifications read is personal, not a write to the team's work, so every
# member (viewers too) may do it; a notification of someone else is a 404.


@team_view()
def inbox(request: TeamRequest) -> HttpResponse:
    notifications = Notification.objects.for_team(request.team).for_user(request.user)
    page = Paginator(notifications, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "notifications/inbox.html", {"page": page})


@team_view()
@require_POST
def mark_read(request: TeamRequest, pk: int) -> HttpResponse:
    mine = Notification.objects.for_user(request.user)
    notification = get_for_team_or_404(mine, request.team, pk=pk)
    services.mark_read(team=request.team, user=request.user, notification_id=notification.pk)
    if request.htmx:
        notification.refresh_from_db(fields=["read_at"])
        return render(request, "notifications/inbox.html#marked", {"notification": notification})
    return redirect("notifications:inbox")


@team_view()
@require_POST
def mark_all_read(request: TeamRequest) -> HttpResponse:
    count = services.mark_read(team=request.team, user=request.user)
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect("notifications:inbox")
