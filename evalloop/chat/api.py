"""Traffic endpoints: chatbots, batch ingestion, sessions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError, ValidationError
from ninja.pagination import paginate
from pydantic import BaseModel

from evalloop.api.auth import api_team
from evalloop.api.errors import answers, filter_problems
from evalloop.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, CursorPagination, page
from evalloop.chat import services
from evalloop.chat.ingest import (
    MAX_MESSAGES_PER_BATCH,
    MAX_TAGS_PER_BATCH,
    IngestError,
    ingest_traffic,
    parse_batch,
)
from evalloop.chat.models import Chatbot, Message, Session
from evalloop.chat.schemas import (
    MAX_SESSIONS_PER_BATCH,
    MAX_TAGS_PER_ITEM,
    ChatbotIn,
    ChatbotOut,
    SessionDetailOut,
    SessionEndIn,
    SessionOut,
    TagChangeIn,
    TrafficBatch,
    TrafficSummaryOut,
)
from evalloop.filters import (
    FilterError,
    Target,
    apply_filter,
    filter_time_limit,
    parse_filter,
)
from evalloop.lib.inputs import Strict
from evalloop.teams.access import get_for_team_or_404, team_objects
from evalloop.teams.models import Team
from evalloop.teams.permissions import Action
from evalloop.web.middleware import MAX_URL_LENGTH

router = Router(tags=["chat"])


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Answer the model's JSON schema with its definitions inlined, for an OpenAPI body."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    return dict(resolve(schema))


@router.post(
    "/chatbots", response={201: ChatbotOut, **answers(403, 409)}, summary="Create a chatbot"
)
def create_chatbot(request: HttpRequest, body: ChatbotIn) -> Status[Chatbot]:
    team = api_team(request, Action.EDIT)
    return Status(201, services.create_chatbot(team=team, slug=body.slug, name=body.name))


@router.get("/chatbots", response=list[ChatbotOut], summary="List chatbots")
@paginate(CursorPagination, newest_first=False)
def list_chatbots(request: HttpRequest) -> QuerySet[Chatbot]:
    return team_objects(Chatbot, api_team(request))


@router.get("/chatbots/{slug}", response=ChatbotOut, summary="One chatbot")
def get_chatbot(request: HttpRequest, slug: str) -> Chatbot:
    return get_for_team_or_404(Chatbot, api_team(request), slug=slug)


@router.post(
    "/traffic",
    response={200: TrafficSummaryOut, **answers(403, 411)},
    summary="Ingest a batch of sessions, messages and tags",
    description="Idempotent by external ids; one transaction; an invalid item rejects the "
    f"whole batch with its index. At most {MAX_SESSIONS_PER_BATCH} sessions, "
    f"{MAX_MESSAGES_PER_BATCH} messages and {MAX_TAGS_PER_BATCH} tags per batch, "
    f"{MAX_TAGS_PER_ITEM} tags per session or message (422 beyond). A busy database answers 503 "
    "with Retry-After and stores nothing: send the same batch again. See docs/ingestion.md.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(TrafficBatch)}},
        }
    },
)
def post_traffic(request: HttpRequest) -> Any:
    team = api_team(request, Action.EDIT)
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        # Django reads a request body only up to its declared Content-Length.
        raise HttpError(411, "Send the batch with a Content-Length header, not chunked.")
    # Parsed here rather than by a body parameter: pydantic reads the raw JSON in one pass,
    # and errors name their place in the batch ("sessions", 3, "messages", 0, "role").
    try:
        return ingest_traffic(team=team, batch=parse_batch(request.body))
    except IngestError as exc:
        raise ValidationError([{**e, "loc": ["body", *e["loc"]]} for e in exc.errors]) from None


def _sessions(team: Team) -> QuerySet[Session]:
    return team_objects(Session, team).select_related("chatbot").prefetch_related("tags")


def _session(request: HttpRequest, action: Action, slug: str, external_id: str) -> Session:
    team = api_team(request, action)
    return get_for_team_or_404(_sessions(team), team, chatbot__slug=slug, external_id=external_id)


@contextmanager
def _filter_errors_at(*at: str) -> Iterator[None]:
    """Place the errors of a filter (unreadable, or stopped by the time limit) at `at`."""
    try:
        yield
    except FilterError as exc:
        raise ValidationError(filter_problems(exc, *at)) from None


def _filtered_sessions(
    request: HttpRequest, slug: str, raw_filter: Any, *, at: tuple[str, str]
) -> QuerySet[Session]:
    team = api_team(request)
    chatbot = get_for_team_or_404(Chatbot, team, slug=slug)
    sessions = _sessions(team).filter(chatbot=chatbot)
    with _filter_errors_at(*at):
        flt = parse_filter(raw_filter or "[]", target=Target.SESSION)
    return apply_filter(sessions, flt, team=team)


class FilteredPagination(CursorPagination):
    """Pages read within the filter time limit: a slow filter answers 422, never hangs."""

    def paginate_queryset(
        self, queryset: QuerySet[Any], pagination: Any, request: HttpRequest, **params: Any
    ) -> dict[str, Any]:
        with _filter_errors_at("query", "filter"), filter_time_limit():
            return super().paginate_queryset(queryset, pagination, request, **params)


class SessionSearchIn(Strict):
    filter: list[Any] = Field(default_factory=list, description="Clauses, as for GET's filter.")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = None


class SessionPageOut(Schema):
    items: list[SessionOut]
    next_cursor: str | None


SEARCH_PATH = "/chatbots/{slug}/sessions/search"


@router.get(
    "/chatbots/{slug}/sessions",
    response=list[SessionOut],
    summary="Sessions of a chatbot, optionally filtered",
    description="`filter` is a JSON list of clauses, e.g. "
    '`[{"field": "tags", "op": "any_of", "value": ["vip"]}]`. Newest first. A URL longer '
    f"than {MAX_URL_LENGTH} characters answers 414: send such a filter to "
    "`POST /chatbots/{slug}/sessions/search`.",
)
@paginate(FilteredPagination)
def list_sessions(request: HttpRequest, slug: str, filter: str | None = None) -> QuerySet[Session]:
    return _filtered_sessions(request, slug, filter, at=("query", "filter"))


@router.post(
    SEARCH_PATH,
    response=SessionPageOut,
    summary="Sessions of a chatbot matching a filter sent in the body",
    description="The same as `GET /chatbots/{slug}/sessions`, for filters too long for a "
    'URL: `{"filter": [...], "limit": 50, "cursor": null}`. Newest first.',
)
def search_sessions(request: HttpRequest, slug: str, body: SessionSearchIn) -> dict[str, Any]:
    sessions = _filtered_sessions(request, slug, body.filter, at=("body", "filter"))
    with _filter_errors_at("body", "filter"), filter_time_limit():
        items, next_cursor = page(
            sessions, limit=body.limit, cursor=body.cursor, at=("body", "cursor")
        )
    return {"items": items, "next_cursor": next_cursor}


# The search path also reads as a session whose external id is "search": GET it as one.
@router.get(SEARCH_PATH, response=SessionDetailOut, include_in_schema=False)
def get_session_named_search(request: HttpRequest, slug: str) -> Session:
    return get_session(request, slug, "search")


@router.get(
    "/chatbots/{slug}/sessions/{external_id}",
    response=SessionDetailOut,
    summary="One session with its messages and tags",
)
def get_session(request: HttpRequest, slug: str, external_id: str) -> Session:
    team = api_team(request)
    messages = Prefetch("messages", queryset=Message.objects.prefetch_related("tags"))
    sessions = _sessions(team).prefetch_related(messages)
    return get_for_team_or_404(sessions, team, chatbot__slug=slug, external_id=external_id)


@router.post(
    "/chatbots/{slug}/sessions/{external_id}/end",
    response={200: SessionOut, **answers(403)},
    summary="Mark a session ended",
    description="Ends the session at `ended_at` (with a time zone) if given, else now; "
    "a session already ended keeps its end time.",
)
def end_session(
    request: HttpRequest, slug: str, external_id: str, body: SessionEndIn | None = None
) -> Session:
    session = _session(request, Action.EDIT, slug, external_id)
    return services.end_session(session=session, ended_at=body.ended_at if body else None)


@router.post(
    "/chatbots/{slug}/sessions/{external_id}/tags",
    response={200: SessionOut, **answers(403)},
    summary="Add and remove tags on a session",
)
def change_tags(request: HttpRequest, slug: str, external_id: str, body: TagChangeIn) -> Session:
    session = _session(request, Action.EDIT, slug, external_id)
    services.change_session_tags(session=session, add=body.add, remove=body.remove)
    return _session(request, Action.EDIT, slug, external_id)
