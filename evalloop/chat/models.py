"""The traffic store: chatbots, their sessions and messages, and tags on both.

Writes go through `evalloop.chat.services` (and the ingestion engine), which keep the
activity clock: anything that can change whether a session matches a filter sets
`Session.changed_at` in the same transaction.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from evalloop.teams.models import Team


class ChatbotQuerySet(models.QuerySet["Chatbot"]):
    def for_team(self, team: Team) -> ChatbotQuerySet:
        return self.filter(team=team)


class Chatbot(models.Model):
    """A source of traffic."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="chatbots")
    slug = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ChatbotQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "slug"], name="chatbot_unique_team_slug")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    HUMAN = "human", "Human"
    AI = "ai", "AI"
    SYSTEM = "system", "System"


class SessionQuerySet(models.QuerySet["Session"]):
    def for_team(self, team: Team) -> SessionQuerySet:
        return self.filter(team=team)


class Session(models.Model):
    """One conversation between a participant and a chatbot."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="sessions")
    chatbot = models.ForeignKey(Chatbot, on_delete=models.CASCADE, related_name="sessions")
    external_id = models.CharField(max_length=255)
    participant = models.CharField(max_length=255, blank=True)
    channel = models.CharField(max_length=100, blank=True)
    version = models.CharField(max_length=100, blank=True)
    state = models.JSONField(default=dict, blank=True)
    participant_data = models.JSONField(default=dict, blank=True)
    message_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    last_message_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # The activity clock: bumped by every write that can change a filter's answer.
    changed_at = models.DateTimeField(default=timezone.now)
    tags: models.ManyToManyField[Tag, SessionTag] = models.ManyToManyField(
        "Tag", through="SessionTag", related_name="sessions"
    )

    objects = SessionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["chatbot", "external_id"], name="session_unique_chatbot_external_id"
            )
        ]
        indexes = [
            # the rule tick: a chatbot's sessions changed since a watermark, in the order
            # (changed_at, id) its pages are read in
            models.Index(
                fields=["team", "chatbot", "changed_at", "id"], name="session_activity_idx"
            ),
            # the sessions list, newest first
            models.Index(fields=["chatbot", "-created_at"], name="session_recent_idx"),
            models.Index(fields=["team", "-created_at"], name="session_team_recent_idx"),
            models.Index(fields=["chatbot", "last_message_at"], name="session_last_message_idx"),
        ]

    def __str__(self) -> str:
        return self.external_id

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


class Message(models.Model):
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    metadata = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(max_length=255, null=True, blank=True)
    tags: models.ManyToManyField[Tag, MessageTag] = models.ManyToManyField(
        "Tag", through="MessageTag", related_name="messages"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="message_unique_session_external_id",
            )
        ]
        indexes = [models.Index(fields=["session", "created_at"], name="message_session_time_idx")]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class TagQuerySet(models.QuerySet["Tag"]):
    def for_team(self, team: Team) -> TagQuerySet:
        return self.filter(team=team)


class Tag(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=100)

    objects = TagQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="tag_unique_team_name")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SessionTag(models.Model):
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="session_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="session_tags")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "tag"], name="sessiontag_unique")]
        indexes = [models.Index(fields=["tag", "session"], name="sessiontag_tag_idx")]

    def __str__(self) -> str:
        return f"{self.tag_id} on session {self.session_id}"


class MessageTag(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="message_tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="message_tags")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "tag"], name="messagetag_unique")]
        indexes = [models.Index(fields=["tag", "message"], name="messagetag_tag_idx")]

    def __str__(self) -> str:
        return f"{self.tag_id} on message {self.message_id}"
