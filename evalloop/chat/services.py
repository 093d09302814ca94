"""Writes to the traffic store.

Every function here that can change whether a session matches a filter sets
`Session.changed_at` in the same transaction (the activity clock), and keeps the denormalized
`message_count` and `last_message_at` true. Batch ingestion lives in `evalloop.chat.ingest`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from evalloop.chat.models import Chatbot, Message, MessageTag, Role, Session, SessionTag, Tag
from evalloop.chat.signals import traffic_changed_on_commit
from evalloop.lib.errors import Conflict
from evalloop.lib.locking import lock_or_404
from evalloop.teams.models import Team

TAG_NAME_MAX_LENGTH = 100


def create_chatbot(*, team: Team, slug: str, name: str) -> Chatbot:
    """Create a chatbot; a slug already used in the team raises Conflict."""
    try:
        with transaction.atomic():
            return Chatbot.objects.create(team=team, slug=slug, name=name)
    except IntegrityError:
        raise Conflict(
            f"A chatbot with the slug {slug!r} already exists in this team.", field="slug"
        ) from None


def clean_tag_names(names: Iterable[str], *, field: str = "tags") -> list[str]:
    """Answer the names stripped and without duplicates, in order; reject empty or long ones."""
    cleaned = list(dict.fromkeys(name.strip() for name in names))
    if any(not name for name in cleaned):
        raise ValidationError({field: "A tag name cannot be empty."})
    if any(len(name) > TAG_NAME_MAX_LENGTH for name in cleaned):
        raise ValidationError({field: f"A tag name has at most {TAG_NAME_MAX_LENGTH} characters."})
    return cleaned


def ensure_tags(*, team: Team, names: Iterable[str]) -> dict[str, Tag]:
    """Answer the team's tags by name, creating the missing ones (at most two queries)."""
    wanted = set(names)
    if not wanted:
        return {}
    tags = {tag.name: tag for tag in Tag.objects.for_team(team).filter(name__in=wanted)}
    missing = [Tag(team=team, name=name) for name in sorted(wanted - tags.keys())]
    if missing:
        # An upsert, so a tag created meanwhile by a concurrent request is answered, not a crash.
        created = Tag.objects.bulk_create(
            missing, update_conflicts=True, unique_fields=["team", "name"], update_fields=["name"]
        )
        tags.update((tag.name, tag) for tag in created)
    return tags


def _lock(session: Session) -> Session:
    return lock_or_404(session)


def _touch(session: Session, locked: Session, **changes: Any) -> Session:
    """Write `changes` and bump the activity clock, on the row and on the caller's instance.

    Once committed, the change is announced (`traffic_changed`), so that whatever watches
    the chatbot can act on it at once.
    """
    changes["changed_at"] = timezone.now()
    Session.objects.filter(pk=locked.pk).update(**changes)
    traffic_changed_on_commit(team_id=locked.team_id, chatbot_ids=[locked.chatbot_id])
    for target in (session, locked):
        for name, value in changes.items():
            setattr(target, name, value)
    return session


@transaction.atomic
def end_session(*, session: Session, ended_at: datetime | None = None) -> Session:
    """Mark the session ended (once: ending an ended session changes nothing)."""
    locked = _lock(session)
    if locked.ended_at is not None:
        session.ended_at = locked.ended_at
        return session
    return _touch(session, locked, ended_at=ended_at or timezone.now())


@transaction.atomic
def update_session(
    *,
    session: Session,
    participant: str | None = None,
    channel: str | None = None,
    version: str | None = None,
    state: dict[str, Any] | None = None,
    participant_data: dict[str, Any] | None = None,
) -> Session:
    """Set the given fields (None leaves a field as it is); bump the clock if any changed."""
    locked = _lock(session)
    given = {
        "participant": participant,
        "channel": channel,
        "version": version,
        "state": state,
        "participant_data": participant_data,
    }
    changes = {
        name: value
        for name, value in given.items()
        if value is not None and getattr(locked, name) != value
    }
    return _touch(session, locked, **changes) if changes else session


def _tag_change(
    add: Iterable[str], remove: Iterable[str], present: set[str]
) -> tuple[list[str], list[str]]:
    """Answer the names to link and to unlink, given those `present`."""
    add, remove = clean_tag_names(add, field="add"), clean_tag_names(remove, field="remove")
    if set(add) & set(remove):
        raise ValidationError({"remove": "A tag cannot be both added and removed."})
    return [name for name in add if name not in present], [n for n in remove if n in present]


@transaction.atomic
def change_session_tags(
    *, session: Session, add: Iterable[str] = (), remove: Iterable[str] = ()
) -> Session:
    """Add and remove tags on a session; the clock moves only if a tag really came or went."""
    locked = _lock(session)
    links = SessionTag.objects.filter(session=locked)
    to_add, to_remove = _tag_change(add, remove, set(links.values_list("tag__name", flat=True)))
    if not (to_add or to_remove):
        return session
    tags = ensure_tags(team=session.team, names=to_add)
    SessionTag.objects.bulk_create([SessionTag(session=locked, tag=tags[n]) for n in to_add])
    links.filter(tag__name__in=to_remove).delete()
    return _touch(session, locked)


@transaction.atomic
def change_message_tags(
    *, message: Message, add: Iterable[str] = (), remove: Iterable[str] = ()
) -> Message:
    """Add and remove tags on a message; its session's clock moves if a tag came or went."""
    locked = _lock(message.session)
    links = MessageTag.objects.filter(message=message)
    to_add, to_remove = _tag_change(add, remove, set(links.values_list("tag__name", flat=True)))
    if not (to_add or to_remove):
        return message
    tags = ensure_tags(team=message.session.team, names=to_add)
    MessageTag.objects.bulk_create([MessageTag(message=message, tag=tags[n]) for n in to_add])
    links.filter(tag__name__in=to_remove).delete()
    _touch(message.session, locked)
    return message


@transaction.atomic
def add_message(
    *,
    session: Session,
    role: Role | str,
    content: str,
    created_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
    external_id: str | None = None,
) -> Message:
    """Append one message to a session, keeping its counters and clock true."""
    locked = _lock(session)
    message = Message.objects.create(
        session=locked,
        role=role,
        content=content,
        created_at=created_at or timezone.now(),
        metadata=metadata or {},
        external_id=external_id,
    )
    last = locked.last_message_at
    changes = {
        "message_count": locked.message_count + 1,
        "last_message_at": message.created_at if last is None else max(last, message.created_at),
    }
    _touch(session, locked, **changes)
    return message
