"""Batch ingestion of traffic: many sessions with their messages and tags, in one transaction.

The cost of a batch is a fixed number of queries whatever its size: chatbots, sessions,
tags and known messages are read with a few IN queries, and everything new is written with
one bulk insert per table. A session the batch changes gets its counters and its activity
clock (`changed_at`) updated in the same transaction; one the batch leaves as it was is not
touched, so sending the same batch twice changes nothing the second time. Once committed, the
chatbots whose sessions changed are announced (`evalloop.chat.signals.traffic_changed`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import pydantic
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from evalloop.chat.models import Chatbot, Message, MessageTag, Session, SessionTag, Tag
from evalloop.chat.schemas import MessageIn, SessionIn, TrafficBatch
from evalloop.chat.services import ensure_tags
from evalloop.chat.signals import traffic_changed_on_commit
from evalloop.lib.inputs import screen_json
from evalloop.teams.models import Team

# Two batches creating the same new session at once: the loser's insert fails on the unique
# constraint after the winner commits; running the batch again then finds the session.
ATTEMPTS = 3
MAX_REPORTED_ERRORS = 100
# With MAX_SESSIONS_PER_BATCH, what keeps one batch's transaction short (well under a
# second on SQLite, which lets one writer in at a time).
MAX_MESSAGES_PER_BATCH = 10_000
MAX_TAGS_PER_BATCH = 10_000  # session and message tags together
SESSION_FIELDS = ("participant", "channel", "version", "state", "participant_data", "created_at")
UPSERT_FIELDS = [
    *SESSION_FIELDS,
    "ended_at",
    "message_count",
    "last_message_at",
    "changed_at",
]


@dataclass(frozen=True)
class IngestSummary:
    sessions_created: int = 0
    sessions_updated: int = 0
    messages_created: int = 0
    messages_skipped: int = 0

    def __add__(self, other: IngestSummary) -> IngestSummary:
        return IngestSummary(
            *(getattr(self, f.name) + getattr(other, f.name) for f in fields(self))
        )


class IngestError(ValueError):
    """A batch that cannot be ingested; `errors` are `{"loc": [...], "msg": ...}` items."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{_dotted(e['loc'])}: {e['msg']}" for e in errors[:3]))


def _dotted(loc: list[Any]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def parse_batch(raw: bytes | str) -> TrafficBatch:
    """Answer the validated batch of a JSON body, or raise IngestError naming each problem."""
    try:
        raw = raw.encode() if isinstance(raw, str) else raw
        return TrafficBatch.model_validate_json(raw, context=screen_json(raw))
    except pydantic.ValidationError as exc:
        raise IngestError(validation_errors(exc)) from None


def validation_errors(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    problems = exc.errors(include_url=False, include_context=False, include_input=False)
    errors = [{"loc": list(p["loc"]), "msg": p["msg"]} for p in problems]
    if len(errors) > MAX_REPORTED_ERRORS:
        more = len(errors) - MAX_REPORTED_ERRORS
        errors = [*errors[:MAX_REPORTED_ERRORS], {"loc": [], "msg": f"... and {more} more."}]
    return errors


def ingest_traffic(*, team: Team, batch: TrafficBatch) -> IngestSummary:
    """Store a batch of sessions, messages and tags for `team`, idempotently, atomically."""
    _check_size(batch)
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with transaction.atomic(), _wide_sqlite_inserts():
                return _Ingestion(team, batch).run()
        except IntegrityError:
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _check_size(batch: TrafficBatch) -> None:
    messages = sum(len(session.messages) for session in batch.sessions)
    if messages > MAX_MESSAGES_PER_BATCH:
        raise _too_large("messages", MAX_MESSAGES_PER_BATCH, messages)
    tags = sum(_batch_tags(session) for session in batch.sessions)
    if tags > MAX_TAGS_PER_BATCH:
        raise _too_large("tags", MAX_TAGS_PER_BATCH, tags)


def _batch_tags(session: SessionIn) -> int:
    """Answer how many tags `session` brings to a batch, its messages' included."""
    return len(session.tags) + sum(len(message.tags) for message in session.messages)


def _too_large(what: str, limit: int, count: int) -> IngestError:
    return IngestError(
        [
            {
                "loc": ["sessions"],
                "msg": f"At most {limit} {what} per batch, this one has {count}: "
                "send it in smaller batches.",
            }
        ]
    )


@contextmanager
def _wide_sqlite_inserts() -> Iterator[None]:
    """Let bulk inserts use SQLite's real variable limit (32,766 since 3.32), not Django's 999.

    Django 5.2 splits a bulk insert into statements of at most 999 parameters on SQLite,
    which would make the query count grow with the batch.
    """
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    features = connection.features
    previous = features.__dict__.get("max_query_params")
    features.max_query_params = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    try:
        yield
    finally:
        if previous is None:
            del features.max_query_params
        else:
            features.max_query_params = previous


@dataclass
class _Item:
    """One session of the batch, merged over every place the batch names it."""

    chatbot: Chatbot
    external_id: str
    given: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, None] = field(default_factory=dict)  # an ordered set
    messages: list[MessageIn] = field(default_factory=list)
    duplicates: int = 0

    @property
    def key(self) -> tuple[int, str]:
        return (self.chatbot.pk, self.external_id)

    def merge(self, data: SessionIn) -> None:
        given = {name: getattr(data, name) for name in (*SESSION_FIELDS, "ended", "ended_at")}
        self.given.update((name, value) for name, value in given.items() if value is not None)
        self.tags.update(dict.fromkeys(data.tags))
        seen = {m.external_id for m in self.messages if m.external_id is not None}
        for message in data.messages:
            if message.external_id is not None and message.external_id in seen:
                self.duplicates += 1
                continue
            if message.external_id is not None:
                seen.add(message.external_id)
            self.messages.append(message)


class _Ingestion:
    def __init__(self, team: Team, batch: TrafficBatch) -> None:
        self.team = team
        self.batch = batch
        self.now = timezone.now()

    def run(self) -> IngestSummary:
        items = self._items(self._chatbots())
        existing = self._existing(items)
        tags = ensure_tags(team=self.team, names=self._tag_names(items))
        known = self._known_messages(items, existing)
        linked = self._linked_tags(existing)
        fresh = [item for item in items if item.key not in existing]
        created = self._create_sessions(fresh)
        sessions = {**existing, **created}
        messages, skipped = self._new_messages(items, sessions, known)
        self._create_messages(messages, tags)
        links = self._new_session_links(items, sessions, tags, linked)
        SessionTag.objects.bulk_create(links)
        retagged = self._tag_known_messages(items, sessions, tags, known)
        tagged = {link.session_id for link in links} | retagged
        updated = self._update_existing(items, existing, messages, tagged)
        changed = [*created.values(), *updated]
        traffic_changed_on_commit(
            team_id=self.team.pk, chatbot_ids={session.chatbot_id for session in changed}
        )
        return IngestSummary(
            sessions_created=len(created),
            sessions_updated=len(updated),
            messages_created=len(messages),
            messages_skipped=skipped + sum(item.duplicates for item in items),
        )

    def _chatbots(self) -> dict[str, Chatbot]:
        slugs = {data.chatbot for data in self.batch.sessions}
        chatbots = {c.slug: c for c in Chatbot.objects.for_team(self.team).filter(slug__in=slugs)}
        unknown = [
            {"loc": ["sessions", index, "chatbot"], "msg": f"No chatbot {data.chatbot!r}."}
            for index, data in enumerate(self.batch.sessions)
            if data.chatbot not in chatbots
        ]
        if unknown:
            raise IngestError(unknown[:MAX_REPORTED_ERRORS])
        return chatbots

    def _items(self, chatbots: dict[str, Chatbot]) -> list[_Item]:
        items: dict[tuple[int, str], _Item] = {}
        for data in self.batch.sessions:
            chatbot = chatbots[data.chatbot]
            key = (chatbot.pk, data.external_id)
            if key not in items:
                items[key] = _Item(chatbot=chatbot, external_id=data.external_id)
            items[key].merge(data)
        return list(items.values())

    def _existing(self, items: list[_Item]) -> dict[tuple[int, str], Session]:
        by_chatbot: dict[int, list[str]] = {}
        for item in items:
            by_chatbot.setdefault(item.chatbot.pk, []).append(item.external_id)
        if not by_chatbot:
            return {}
        match = Q()
        for chatbot_id, external_ids in by_chatbot.items():
            match |= Q(chatbot_id=chatbot_id, external_id__in=external_ids)
        # Locked, so a concurrent batch on the same sessions waits instead of losing counts;
        # in id order, so two batches sharing sessions queue instead of deadlocking.
        found = Session.objects.select_for_update().filter(match).order_by("pk")
        return {(s.chatbot_id, s.external_id): s for s in found}

    @staticmethod
    def _tag_names(items: list[_Item]) -> set[str]:
        names = {name for item in items for name in item.tags}
        return names | {name for item in items for m in item.messages for name in m.tags}

    @staticmethod
    def _known_messages(
        items: list[_Item], existing: dict[tuple[int, str], Session]
    ) -> dict[tuple[int, str], int]:
        """Answer the stored messages the batch names again: (session id, external id) -> id."""
        external_ids = {
            m.external_id
            for item in items
            if item.key in existing
            for m in item.messages
            if m.external_id is not None
        }
        if not external_ids:
            return {}
        rows = Message.objects.filter(
            session_id__in=[s.pk for s in existing.values()], external_id__in=external_ids
        ).values_list("session_id", "external_id", "pk")
        return {(session_id, external_id or ""): pk for session_id, external_id, pk in rows}

    @staticmethod
    def _linked_tags(existing: dict[tuple[int, str], Session]) -> set[tuple[int, int]]:
        if not existing:
            return set()
        rows = SessionTag.objects.filter(
            session_id__in=[s.pk for s in existing.values()]
        ).values_list("session_id", "tag_id")
        return set(rows)

    def _create_sessions(self, items: list[_Item]) -> dict[tuple[int, str], Session]:
        sessions = [self._new_session(item) for item in items]
        Session.objects.bulk_create(sessions)
        return {(s.chatbot_id, s.external_id): s for s in sessions}

    def _new_session(self, item: _Item) -> Session:
        given = dict(item.given)
        ended = given.pop("ended", False)
        given.setdefault("ended_at", self.now if ended else None)
        times = [self._time(m) for m in item.messages]
        given.setdefault("created_at", min(times, default=self.now))
        return Session(
            team=self.team,
            chatbot=item.chatbot,
            external_id=item.external_id,
            message_count=len(times),
            last_message_at=max(times, default=None),
            changed_at=self.now,
            **given,
        )

    def _time(self, message: MessageIn) -> datetime:
        return message.created_at or self.now

    def _new_messages(
        self,
        items: list[_Item],
        sessions: dict[tuple[int, str], Session],
        known: dict[tuple[int, str], int],
    ) -> tuple[list[tuple[Message, MessageIn]], int]:
        messages, skipped = [], 0
        for item in items:
            session = sessions[item.key]
            for data in item.messages:
                if (session.pk, data.external_id) in known:
                    skipped += 1
                    continue
                messages.append((self._message(session, data), data))
        return messages, skipped

    def _message(self, session: Session, data: MessageIn) -> Message:
        return Message(
            session=session,
            role=data.role,
            content=data.content,
            created_at=self._time(data),
            metadata=data.metadata,
            external_id=data.external_id,
        )

    @staticmethod
    def _create_messages(messages: list[tuple[Message, MessageIn]], tags: dict[str, Tag]) -> None:
        Message.objects.bulk_create([message for message, _ in messages])
        MessageTag.objects.bulk_create(
            [
                MessageTag(message=message, tag=tags[name])
                for message, data in messages
                for name in dict.fromkeys(data.tags)
            ]
        )

    @staticmethod
    def _new_session_links(
        items: list[_Item],
        sessions: dict[tuple[int, str], Session],
        tags: dict[str, Tag],
        linked: set[tuple[int, int]],
    ) -> list[SessionTag]:
        links = []
        for item in items:
            session = sessions[item.key]
            for name in item.tags:
                if (session.pk, tags[name].pk) not in linked:
                    links.append(SessionTag(session=session, tag=tags[name]))
        return links

    @staticmethod
    def _tag_known_messages(
        items: list[_Item],
        sessions: dict[tuple[int, str], Session],
        tags: dict[str, Tag],
        known: dict[tuple[int, str], int],
    ) -> set[int]:
        """Add tags given on messages already stored (tags are only ever added by ingestion).

        Answers the ids of the sessions whose messages gained a tag, whose clock must move.
        """
        wanted: dict[tuple[int, int], int] = {}  # (message id, tag id) -> session id
        for item in items:
            session = sessions[item.key]
            for data in item.messages:
                message_id = known.get((session.pk, data.external_id)) if data.external_id else None
                if message_id is not None:
                    wanted.update(((message_id, tags[name].pk), session.pk) for name in data.tags)
        if not wanted:
            return set()
        stored = MessageTag.objects.filter(
            message_id__in={message_id for message_id, _ in wanted}
        ).values_list("message_id", "tag_id")
        for pair in stored:
            wanted.pop(pair, None)
        MessageTag.objects.bulk_create(
            MessageTag(message_id=message_id, tag_id=tag_id) for message_id, tag_id in wanted
        )
        return set(wanted.values())

    def _update_existing(
        self,
        items: list[_Item],
        existing: dict[tuple[int, str], Session],
        messages: list[tuple[Message, MessageIn]],
        tagged: set[int],
    ) -> list[Session]:
        """Write what the batch changed in sessions already stored; answer those sessions."""
        new_messages: dict[int, list[Message]] = {}
        for message, _ in messages:
            new_messages.setdefault(message.session_id, []).append(message)
        changed = []
        for item in items:
            session = existing.get(item.key)
            if session is None:
                continue
            if self._apply(session, item.given, new_messages.get(session.pk, [])) or (
                session.pk in tagged
            ):
                session.changed_at = self.now
                changed.append(session)
        if changed:
            # An upsert by primary key: one statement, where bulk_update would build a CASE
            # per field whose cost grows with the square of the batch.
            Session.objects.bulk_create(
                changed, update_conflicts=True, unique_fields=["pk"], update_fields=UPSERT_FIELDS
            )
        return changed

    def _apply(self, session: Session, given: dict[str, Any], messages: list[Message]) -> bool:
        """Set the given fields and the counters on `session`; answer whether anything changed."""
        changed = False
        if "ended_at" in given:
            given = {name: value for name, value in given.items() if name != "ended"}
        for name, value in given.items():
            if name == "ended":
                name, value = "ended_at", (session.ended_at or self.now) if value else None
            if getattr(session, name) != value:
                setattr(session, name, value)
                changed = True
        if messages:
            latest = max(m.created_at for m in messages)
            last = session.last_message_at
            session.last_message_at = latest if last is None else max(last, latest)
            session.message_count += len(messages)
            changed = True
        return changed
