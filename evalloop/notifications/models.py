from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from evalloop.teams.models import Team, User


class Kind(models.TextChoices):
    RULE_DISABLED = "rule_disabled", "Rule disabled"
    RUN_FAILED = "run_failed", "Run failed"
    REGRESSION = "regression", "Regression alert"
    IMPORT_FINISHED = "import_finished", "Import finished"
    INFO = "info", "Information"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def for_team(self, team: Team) -> NotificationQuerySet:
        return self.filter(team=team)

    def for_user(self, user: User) -> NotificationQuerySet:
        return self.filter(recipient=user)

    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """One message to one member about something they can act on."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="notifications")
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices, default=Kind.INFO)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["recipient", "team", "read_at"], name="notif_inbox_idx")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title

    @property
    def link(self) -> str:
        """Answer `url` when it stays on this site (no `javascript:`, no other host), else ''."""
        safe = url_has_allowed_host_and_scheme(self.url, allowed_hosts=None)
        return self.url if self.url and safe else ""
