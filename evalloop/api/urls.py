"""The REST API, mounted at /api/v1: one NinjaAPI, one router per app."""

from __future__ import annotations

from evalloop.api import errors
from evalloop.api.auth import ApiKeyAuth
from evalloop.api.base import Api
from evalloop.api.parser import JsonObjectParser

api = Api(
    title="evalloop API",
    version="1",
    description="Continuous evaluation of chatbot conversations. Authenticate with "
    "`Authorization: Bearer <team API key>`.",
    auth=ApiKeyAuth(),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
    parser=JsonObjectParser(),
)
errors.install(api)

api.add_router("/", "evalloop.teams.api.router")
api.add_router("/", "evalloop.chat.api.router")
api.add_router("/", "evalloop.filters.api.router")
api.add_router("/", "evalloop.datasets.api.router")
api.add_router("/", "evalloop.evaluators.api.evaluators.router")
api.add_router("/", "evalloop.evaluators.api.providers.router")
api.add_router("/", "evalloop.runs.api.router")
api.add_router("/", "evalloop.autopopulate.api.router")
