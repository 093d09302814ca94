from __future__ import annotations

from dataclasses import replace

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from evalloop.chat.models import Chatbot, Tag
from evalloop.filters.builder import Draft, read_draft
from evalloop.filters.fields import ChatbotSlug, MessageTags, SessionTags
from evalloop.filters.language import Target
from evalloop.teams.access import team_objects
from evalloop.teams.decorators import TeamRequest, team_view

SUGGESTIONS = 200


@require_GET
@team_view()
def clause_form(request: TeamRequest) -> HttpResponse:
    """The builder's "add filter" row for the chosen field and operator (an htmx partial)."""
    if request.GET.get("target") not in set(Target):
        raise Http404("Unknown filter target.")
    draft = read_draft(request.GET, Target(request.GET["target"]))
    draft = replace(draft, suggestions=suggestions(request, draft))
    return render(request, "filters/builder.html#clause-form", {"draft": draft})


def suggestions(request: TeamRequest, draft: Draft) -> list[str]:
    """The team's tag names or chatbot slugs, offered while typing a value."""
    if isinstance(draft.field, SessionTags | MessageTags):
        tags = team_objects(Tag, request.team).order_by("name")
        return list(tags.values_list("name", flat=True)[:SUGGESTIONS])
    if isinstance(draft.field, ChatbotSlug):
        chatbots = team_objects(Chatbot, request.team).order_by("slug")
        return list(chatbots.values_list("slug", flat=True)[:SUGGESTIONS])
    return []
