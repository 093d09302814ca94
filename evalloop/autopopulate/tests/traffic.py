"""Traffic for the tick tests: sessions of one turn and its reply, ended or not."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from django.utils import timezone

from evalloop.chat.models import Chatbot, Session, SessionTag
from evalloop.chat.tests.factories import SessionFactory, TagFactory, conversation


def later(minutes: float = 0) -> datetime:
    """A moment a little after every write so far (ticks take `now` from the tests)."""
    return timezone.now() + timedelta(seconds=1, minutes=minutes)


def session(chatbot: Chatbot, *, ended: bool = True, tags: tuple[str, ...] = ()) -> Session:
    found = cast(Session, SessionFactory(chatbot=chatbot))
    conversation(found, ("human", "hi"), ("ai", "hello"))
    for name in tags:
        tag(found, name)
    if ended:
        end(found)
    return found


def end(found: Session) -> None:
    found.ended_at = found.changed_at = timezone.now()
    found.save(update_fields=["ended_at", "changed_at"])


def tag(found: Session, name: str) -> None:
    SessionTag.objects.create(session=found, tag=TagFactory(team=found.team, name=name))
    found.changed_at = timezone.now()
    found.save(update_fields=["changed_at"])
