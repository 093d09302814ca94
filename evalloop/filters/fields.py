"""Fields of the filter language, one table per target, and how each reaches its data.

Fields that look into a one-to-many relation (a session's messages, tags) compile to
EXISTS subqueries, so a clause never multiplies the outer rows and no query needs DISTINCT.
Models are looked up when a clause compiles, not at import, so this module (and the
package's public interface) imports before the app registry is ready.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db.models import Exists, F, Model, OuterRef, Q, QuerySet
from django.db.models.fields.json import HasKey, KeyTransform

from evalloop.filters import operators as ops
from evalloop.filters.operators import Operator
from evalloop.filters.values import Choice, Slug

if TYPE_CHECKING:
    from evalloop.teams.models import Team

# The values of evalloop.chat.models.Role (a test keeps them equal).
ROLES = ("human", "ai", "system")


def chat(model: str) -> QuerySet[Any]:
    model_class: type[Model] = apps.get_model("chat", model)
    return model_class._default_manager.all()


class RowExists(Exists):
    """EXISTS that PostgreSQL evaluates per outer row, through the relation's index.

    Left alone, PostgreSQL turns EXISTS into a semi-join or a hashed subplan that reads the
    whole related table (every message of the team, however old) because it guesses that
    `ILIKE '%word%'` keeps almost nothing. Lists (newest first, 50 rows) and rule ticks (the
    sessions changed since a watermark) look at few outer rows, so a per-row probe costs what
    they look at, not what the team has ever stored. `OFFSET 0` is PostgreSQL's documented
    fence against that rewrite; SQLite always probes per row.
    """

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        template = "EXISTS(%(subquery)s OFFSET 0)"
        return self.as_sql(compiler, connection, template=template, **extra)


@dataclass(frozen=True)
class Scope:
    """Where a clause compiles: the team, and the lookup path from the outer row."""

    team: Team
    prefix: str = ""  # "session__" when a message's clause looks at its session

    def path(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def outer(self) -> OuterRef:
        """The outer row (as a subquery sees it) the scope is about."""
        return OuterRef(self.prefix.removesuffix("__") or "pk")

    def into(self, relation: str) -> Scope:
        return replace(self, prefix=f"{self.prefix}{relation}__") if relation else self


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    description: str
    operators: tuple[Operator, ...]
    via: str = field(default="", kw_only=True)  # the relation to follow first ("session")

    def operator(self, name: Any) -> Operator | None:
        return next((op for op in self.operators if op.name == name), None)

    def through(self, relation: str, prefix: str) -> Field:
        """This field seen from a related row: `session.tags` on a message."""
        return replace(
            self, name=f"{prefix}.{self.name}", label=f"{prefix} {self.label}", via=relation
        )


@dataclass(frozen=True)
class Column(Field):
    """A column of the outer row (or of a row it points to)."""

    path: str = field(kw_only=True)

    def where(self, scope: Scope, **lookups: Any) -> Q:
        return Q(
            **{f"{scope.path(self.path)}__{lookup}": value for lookup, value in lookups.items()}
        )


@dataclass(frozen=True)
class ChatbotSlug(Field):
    """The chatbot, named by its slug; a subquery on the team's chatbots, not a join."""

    def where(self, scope: Scope, **lookups: Any) -> Q:
        slugs = {f"slug__{lookup}": value for lookup, value in lookups.items()}
        chatbots = chat("Chatbot").filter(team=scope.team, **slugs).values("pk")
        return Q(**{f"{scope.path('chatbot')}__in": chatbots})


@dataclass(frozen=True)
class MessageColumn(Field):
    """A column of any of the session's messages: EXISTS over the messages."""

    path: str = field(kw_only=True)

    def where(self, scope: Scope, **lookups: Any) -> Q:
        conditions = {f"{self.path}__{lookup}": value for lookup, value in lookups.items()}
        return Q(RowExists(chat("Message").filter(session=scope.outer(), **conditions)))


@dataclass(frozen=True)
class SessionTags(Field):
    """Tags on the session or on any of its messages (team-scoped by name)."""

    def tagged(self, scope: Scope, names: Iterable[str]) -> Q:
        tags = team_tags(scope.team, names)
        on_session = chat("SessionTag").filter(session=scope.outer(), tag__in=tags)
        on_messages = chat("MessageTag").filter(message__session=scope.outer(), tag__in=tags)
        return Q(RowExists(on_session)) | Q(RowExists(on_messages))


@dataclass(frozen=True)
class MessageTags(Field):
    """Tags on the message itself."""

    def tagged(self, scope: Scope, names: Iterable[str]) -> Q:
        tags = team_tags(scope.team, names)
        return Q(RowExists(chat("MessageTag").filter(message=scope.outer(), tag__in=tags)))


def team_tags(team: Team, names: Iterable[str]) -> QuerySet[Any]:
    return chat("Tag").filter(team=team, name__in=list(names)).values("pk")


@dataclass(frozen=True)
class JsonObject(Field):
    """A JSON object column, filtered by its top-level keys."""

    path: str = field(kw_only=True)

    def key_where(self, scope: Scope, lookup: type[Any], key: str, value: Any) -> Q:
        return Q(lookup(KeyTransform(key, scope.path(self.path)), value))

    def has_key(self, scope: Scope, key: str) -> Q:
        return Q(HasKey(F(scope.path(self.path)), key))


def text(name: str, label: str, description: str, path: str | None = None) -> Column:
    return Column(name, label, description, ops.TEXT_OPERATORS, path=path or name)


def time(name: str, label: str, description: str) -> Column:
    return Column(name, label, description, ops.TIME_OPERATORS, path=name)


def json_object(name: str, label: str, description: str) -> JsonObject:
    return JsonObject(name, label, description, ops.KEY_OPERATORS, path=name)


SESSION_FIELDS: tuple[Field, ...] = (
    ChatbotSlug(
        "chatbot", "chatbot", "The session's chatbot, by slug.", (ops.eq(Slug()), ops.in_(Slug()))
    ),
    text("participant", "participant", "The participant's identifier."),
    text("channel", "channel", "The channel the session came through (web, whatsapp...)."),
    text("version", "version", "The chatbot's version label on the session."),
    SessionTags(
        "tags", "tags", "Tags on the session or on any of its messages.", ops.TAG_OPERATORS
    ),
    time("created_at", "created", "When the session started."),
    time("last_message_at", "last message", "When its latest message was sent."),
    time("ended_at", "end time", "When it ended (empty while it goes on)."),
    Column("ended", "ended", "Whether the session has ended.", (ops.is_set(),), path="ended_at"),
    Column(
        "message_count",
        "message count",
        "How many messages the session has.",
        ops.COUNT_OPERATORS,
        path="message_count",
    ),
    MessageColumn(
        "message_content",
        "message content",
        "The text of any message of the session.",
        ops.CONTENT_OPERATORS,
        path="content",
    ),
    json_object("state", "state", "The session's state object, by key."),
    json_object("participant_data", "participant data", "The participant's data, by key."),
)

MESSAGE_FIELDS: tuple[Field, ...] = (
    Column(
        "role",
        "role",
        "Who sent the message: human, ai or system.",
        (ops.eq(Choice(ROLES)), ops.in_(Choice(ROLES))),
        path="role",
    ),
    Column("content", "content", "The message's text.", ops.CONTENT_OPERATORS, path="content"),
    MessageTags("tags", "tags", "Tags on the message.", ops.TAG_OPERATORS),
    time("created_at", "sent", "When the message was sent."),
    text("version", "version", "The chatbot's version label on its session.", "session__version"),
    *(field.through("session", "session") for field in SESSION_FIELDS),
)
