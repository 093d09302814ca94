"""Tell the members who can act."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from evalloop.notifications.models import Kind, Notification
from evalloop.teams.models import Membership, Team, User
from evalloop.teams.permissions import Action, roles_that_can


@transaction.atomic
def notify(
    *, team: Team, action: Action, kind: str, title: str, body: str = "", url: str = ""
) -> list[Notification]:
    """Notify every member of `team` whose role may perform `action` (the ones who can act)."""
    recipients = Membership.objects.filter(team=team, role__in=roles_that_can(action)).values_list(
        "user_id", flat=True
    )
    return Notification.objects.bulk_create(
        Notification(team=team, recipient_id=user_id, kind=kind, title=title, body=body, url=url)
        for user_id in recipients
    )


def mark_read(*, team: Team, user: User, notification_id: int | None = None) -> int:
    """Mark one notification (or, with no id, all) of `user` in `team` read; answer how many."""
    unread = Notification.objects.for_team(team).for_user(user).unread()
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    return unread.update(read_at=timezone.now())


__all__ = ["Kind", "mark_read", "notify"]
