"""Input and output models of the traffic API (pydantic), shared with the log import."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from ninja import Schema
from pydantic import (
    Field,
    StringConstraints,
    model_validator,
)

from evalloop.chat.models import Role
from evalloop.lib.inputs import Strict
from evalloop.lib.moments import Timestamp

ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=255)]
TagName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Slug = Annotated[str, StringConstraints(pattern=r"^[-a-zA-Z0-9_]+$", min_length=1, max_length=64)]

MAX_SESSIONS_PER_BATCH = 1_000
MAX_TAGS_PER_ITEM = 100
# Bounded, as a batch's messages are, so that no one request holds the write lock for long.
TagList = Annotated[list[TagName], Field(max_length=MAX_TAGS_PER_ITEM)]


class MessageIn(Strict):
    external_id: ExternalId | None = None
    role: Role
    content: str = ""
    created_at: Timestamp | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    tags: TagList = Field(default_factory=list)


class SessionIn(Strict):
    chatbot: Slug
    external_id: ExternalId
    participant: Annotated[str, StringConstraints(max_length=255)] | None = None
    channel: Annotated[str, StringConstraints(max_length=100)] | None = None
    version: Annotated[str, StringConstraints(max_length=100)] | None = None
    state: dict[str, Any] | None = None
    participant_data: dict[str, Any] | None = None
    ended: bool | None = None
    ended_at: Timestamp | None = None
    created_at: Timestamp | None = None
    tags: TagList = Field(default_factory=list)
    messages: list[MessageIn] = Field(default_factory=list)

    @model_validator(mode="after")
    def an_end_time_means_ended(self) -> SessionIn:
        if self.ended is False and self.ended_at is not None:
            raise ValueError("ended_at is given but ended is false")
        return self


class SessionEndIn(Strict):
    ended_at: Timestamp | None = None


class TrafficBatch(Strict):
    sessions: list[SessionIn] = Field(max_length=MAX_SESSIONS_PER_BATCH)


class TrafficSummaryOut(Schema):
    sessions_created: int
    sessions_updated: int
    messages_created: int
    messages_skipped: int


class ChatbotIn(Strict):
    slug: Slug
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ChatbotOut(Schema):
    id: int
    slug: str
    name: str
    created_at: datetime


class MessageOut(Schema):
    id: int
    external_id: str | None
    role: str
    content: str
    created_at: datetime
    metadata: dict[str, Any]
    tags: list[str]

    @staticmethod
    def resolve_tags(obj: Any) -> list[str]:
        return [tag.name for tag in obj.tags.all()]


class SessionOut(Schema):
    id: int
    chatbot: str
    external_id: str
    participant: str
    channel: str
    version: str
    state: dict[str, Any]
    participant_data: dict[str, Any]
    message_count: int
    created_at: datetime
    last_message_at: datetime | None
    ended_at: datetime | None
    changed_at: datetime
    tags: list[str]

    @staticmethod
    def resolve_chatbot(obj: Any) -> str:
        return str(obj.chatbot.slug)

    @staticmethod
    def resolve_tags(obj: Any) -> list[str]:
        return [tag.name for tag in obj.tags.all()]


class SessionDetailOut(SessionOut):
    messages: list[MessageOut]

    @staticmethod
    def resolve_messages(obj: Any) -> list[Any]:
        return list(obj.messages.all())


class TagChangeIn(Strict):
    add: TagList = Field(default_factory=list)
    remove: TagList = Field(default_factory=list)
