"""Chatbots, their sessions (with the filter builder), transcripts, and log imports."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Max, QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_POST

from evalloop.chat import services
from evalloop.chat.forms import ChatbotForm, LogImportForm, TagForm
from evalloop.chat.log_import import import_log
from evalloop.chat.models import Chatbot, Message, Session
from evalloop.filters import FilterTimeout, Target, filter_time_limit, read_filter_request
from evalloop.lib import keyset
from evalloop.lib.errors import Conflict, add_conflict
from evalloop.teams.access import get_for_team_or_404, team_objects
from evalloop.teams.decorators import TeamRequest, team_view
from evalloop.teams.permissions import Action
from evalloop.web.htmx import render_page

PAGE_SIZE = 50
# The sessions list counts what its filter matches up to this many ("10,000+" beyond), and
# for at most this long: a count must never make the page slow on a large history.
COUNT_CAP = 10_000
COUNT_SECONDS = 2.0


@team_view(write_methods=Action.EDIT)
def chatbot_list(request: TeamRequest) -> HttpResponse:
    """The team's chatbots; editors create one with the form below the list."""
    form = ChatbotForm(request.POST or None, team=request.team)
    if request.method == "POST" and form.is_valid():
        try:
            chatbot = services.create_chatbot(team=request.team, **form.cleaned_data)
        except Conflict as exc:  # another request took the slug since the form checked it
            add_conflict(form, exc)
        else:
            messages.success(request, f"Chatbot {chatbot.name} created.")
            return redirect("chat:session-list", slug=chatbot.slug)
    chatbots = team_objects(Chatbot, request.team).annotate(
        session_count=Count("sessions"), last_message_at=Max("sessions__last_message_at")
    )
    return render(request, "chat/chatbot_list.html", {"chatbots": chatbots, "form": form})


def newest_page(sessions: QuerySet[Session], cursor: str | None) -> tuple[list[Session], str]:
    """Answer a page of sessions, newest first, and the cursor of the next ("" if none)."""
    try:
        rows, next_cursor = keyset.page(
            sessions, order=("-created_at", "-pk"), limit=PAGE_SIZE, cursor=cursor
        )
    except keyset.BadCursor:
        raise Http404("Not a page of this list.") from None
    return rows, next_cursor or ""


@team_view()
def session_list(request: TeamRequest, slug: str) -> HttpResponse:
    chatbot = get_for_team_or_404(Chatbot, request.team, slug=slug)
    filter_state = read_filter_request(request, target=Target.SESSION)
    if filter_state.redirect_to:
        return redirect(filter_state.redirect_to)
    sessions = team_objects(Session, request.team).filter(chatbot=chatbot)
    sessions = filter_state.apply(sessions.prefetch_related("tags"), team=request.team)
    rows: list[Session] = []
    next_cursor = stopped = ""
    try:
        with filter_time_limit():
            rows, next_cursor = newest_page(sessions, request.GET.get("cursor"))
    except FilterTimeout as exc:
        stopped = exc.messages()[0]
    context = {
        "chatbot": chatbot,
        "sessions": rows,
        "next_cursor": next_cursor,
        "paged": bool(request.GET.get("cursor")),
        "filter_state": filter_state,
        "filter_stopped": stopped,
        "matching": count_text(sessions, filtered=bool(filter_state.filter)) if rows else "",
    }
    return render_page(request, "chat/session_list.html", context, partial="results")


def count_text(sessions: QuerySet[Session], *, filtered: bool) -> str:
    """Say how many sessions there are, up to COUNT_CAP; "" when counting takes too long."""
    limit = min(COUNT_SECONDS, settings.EVALLOOP_FILTER_TIMEOUT_SECONDS)
    try:
        with filter_time_limit(limit):
            count = sessions.order_by().values("pk")[: COUNT_CAP + 1].count()
    except FilterTimeout:
        return ""
    shown = f"{COUNT_CAP:,}+" if count > COUNT_CAP else f"{count:,}"
    noun = f"session{pluralize(count)}"
    if not filtered:
        return f"{shown} {noun}"
    return f"{shown} {noun} {'match' if count != 1 else 'matches'} this filter"


def _session(request: TeamRequest, slug: str, pk: int) -> Session:
    sessions = team_objects(Session, request.team).select_related("chatbot")
    return get_for_team_or_404(sessions, request.team, chatbot__slug=slug, pk=pk)


@team_view()
def transcript(request: TeamRequest, slug: str, pk: int) -> HttpResponse:
    session = _session(request, slug, pk)
    thread = Message.objects.filter(session=session).prefetch_related("tags")
    context = {
        "session": session,
        "chatbot": session.chatbot,
        "session_tags": list(session.tags.all()),
        "thread": thread,
        "state_json": _pretty(session.state),
        "participant_data_json": _pretty(session.participant_data),
    }
    return render(request, "chat/transcript.html", context)


def _pretty(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) if data else ""


def _tag_change(request: TeamRequest, change: Any, **target: Any) -> str | None:
    """Apply the posted tag change; answer the error to show, if any."""
    form = TagForm(request.POST)
    if not form.is_valid():
        return " ".join(str(error) for errors in form.errors.values() for error in errors)
    add, remove = form.cleaned_data["add"], form.cleaned_data["remove"]
    try:
        change(add=[add] if add else [], remove=[remove] if remove else [], **target)
    except ValidationError as exc:
        return " ".join(exc.messages)
    return None


@require_POST
@team_view(Action.EDIT)
def session_tags(request: TeamRequest, slug: str, pk: int) -> HttpResponse:
    session = _session(request, slug, pk)
    error = _tag_change(request, services.change_session_tags, session=session)
    context: dict[str, Any] = {"session": session, "chatbot": session.chatbot, "tag_error": error}
    context["session_tags"] = list(session.tags.all())
    return _tags_answer(request, "session-tags", context)


@require_POST
@team_view(Action.EDIT)
def message_tags(request: TeamRequest, slug: str, pk: int, message_pk: int) -> HttpResponse:
    session = _session(request, slug, pk)
    tagged = Message.objects.filter(session=session).prefetch_related("tags")
    message = tagged.filter(pk=message_pk).first()
    if message is None:
        raise Http404("Not found.")
    error = _tag_change(request, services.change_message_tags, message=message)
    message = tagged.get(pk=message_pk)
    context = {"session": session, "chatbot": session.chatbot, "message": message}
    return _tags_answer(request, "message-tags", {**context, "tag_error": error})


def _tags_answer(request: TeamRequest, partial: str, context: dict[str, Any]) -> HttpResponse:
    """The htmx partial; without htmx, back to the transcript (with the error, if any)."""
    if getattr(request, "htmx", False):
        return render(request, f"chat/transcript.html#{partial}", context)
    if context["tag_error"]:
        messages.error(request, context["tag_error"])
    session = context["session"]
    return redirect("chat:transcript", slug=session.chatbot.slug, pk=session.pk)


@team_view(Action.EDIT)
def log_upload(request: TeamRequest, slug: str) -> HttpResponse:
    chatbot = get_for_team_or_404(Chatbot, request.team, slug=slug)
    form = LogImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        report = import_log(chatbot=chatbot, file=upload.file, fmt=form.cleaned_data["format"])
        if report.summary is not None:
            messages.success(request, _summary_text(report.summary))
            return redirect(reverse("chat:session-list", kwargs={"slug": chatbot.slug}))
    return render(
        request, "chat/log_import.html", {"chatbot": chatbot, "form": form, "report": report}
    )


def _summary_text(summary: Any) -> str:
    created, updated = summary.sessions_created, summary.sessions_updated
    return (
        f"Imported {_count(summary.messages_created, 'message')} "
        f"({summary.messages_skipped} already there) into "
        f"{created} new and {updated} updated session{pluralize(created + updated)}."
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{pluralize(n)}"
