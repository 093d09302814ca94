"""LLM provider endpoints: any member reads them (never the key), admins manage them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import ValidationError
from ninja.pagination import paginate
from pydantic import Field, StringConstraints

from evalloop.api.auth import api_team
from evalloop.api.errors import answers, problem
from evalloop.api.pagination import CursorPagination
from evalloop.evaluators import provider_services as services
from evalloop.evaluators.models import Provider
from evalloop.lib.inputs import Patch, Strict
from evalloop.teams.access import get_for_team_or_404, team_objects
from evalloop.teams.permissions import Action

router = Router(tags=["providers"])

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=services.MAX_NAME)
]
Key = Annotated[str, Field(min_length=1, max_length=services.MAX_KEY)]
BaseUrl = Annotated[str, Field(max_length=services.MAX_BASE_URL)]


class ProviderIn(Strict):
    name: Name
    kind: Literal["openai", "anthropic"]
    base_url: BaseUrl = Field(
        "", description="Empty for the kind's official endpoint; any OpenAI-compatible server."
    )
    api_key: Key = Field(description="Stored encrypted; never returned, only `key_hint`.")
    prices: services.Prices = Field(
        default_factory=dict, description="`{model: {input, output}}` per million tokens."
    )


class ProviderPatch(Patch):
    name: Name | None = None
    base_url: BaseUrl | None = None
    api_key: Key | None = Field(None, description="A new key replaces the old; leave out to keep.")
    prices: services.Prices | None = None
    kind: str | None = None  # accepted only to answer that it cannot change


class PriceOut(Schema):
    input: float
    output: float


class ProviderOut(Schema):
    id: int
    name: str
    kind: str
    base_url: str
    key_hint: str
    prices: dict[str, PriceOut]
    created_at: datetime
    updated_at: datetime


def _provider(request: HttpRequest, provider_id: int, action: Action = Action.VIEW) -> Provider:
    return get_for_team_or_404(Provider, api_team(request, action), pk=provider_id)


def _dumped(body: ProviderIn | ProviderPatch, *fields: str) -> dict[str, Any]:
    return body.model_dump(include=set(fields), exclude_unset=True, exclude_none=True)


@router.post(
    "/providers", response={201: ProviderOut, **answers(403, 409)}, summary="Add an LLM provider"
)
def create_provider(request: HttpRequest, body: ProviderIn) -> Status[Provider]:
    team = api_team(request, Action.MANAGE_PROVIDERS)
    values = _dumped(body, "name", "kind", "base_url", "api_key", "prices")
    return Status(201, services.create_provider(team=team, **values))


@router.get(
    "/providers",
    response=list[ProviderOut],
    summary="List LLM providers",
    description="Every member may read them, to pick one for an LLM judge; keys show as a hint.",
)
@paginate(CursorPagination, newest_first=False)
def list_providers(request: HttpRequest) -> QuerySet[Provider]:
    return team_objects(Provider, api_team(request))


@router.get("/providers/{provider_id}", response=ProviderOut, summary="One LLM provider")
def get_provider(request: HttpRequest, provider_id: int) -> Provider:
    return _provider(request, provider_id)


@router.patch(
    "/providers/{provider_id}",
    response={200: ProviderOut, **answers(403, 409)},
    summary="Change an LLM provider (a new api_key replaces the old one)",
)
def update_provider(request: HttpRequest, provider_id: int, body: ProviderPatch) -> Provider:
    provider = _provider(request, provider_id, Action.MANAGE_PROVIDERS)
    if body.kind is not None and body.kind != provider.kind:
        raise ValidationError(
            [problem("The kind is fixed at creation; add another provider.", "body", "kind")]
        )
    values = _dumped(body, "name", "base_url", "api_key", "prices")
    return services.update_provider(provider=provider, **values)


@router.delete(
    "/providers/{provider_id}",
    response={204: None, **answers(403, 409)},
    summary="Delete an LLM provider no evaluator uses",
)
def delete_provider(request: HttpRequest, provider_id: int) -> Status[None]:
    services.delete_provider(provider=_provider(request, provider_id, Action.MANAGE_PROVIDERS))
    return Status(204, None)
