"""evalloop's NinjaAPI: one error shape and an OpenAPI document that declares the errors."""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI
from ninja.errors import ValidationError, ValidationErrorContext
from ninja.openapi.schema import OpenAPISchema

from evalloop.api.openapi import ApiSchema


class Api(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return ApiSchema(self, path_prefix)

    def validation_error_from_error_contexts(
        self, error_contexts: list[ValidationErrorContext[Any]]
    ) -> ValidationError:
        """Place each problem as the client wrote it: `["body", "mode"]`, `["query", "limit"]`.

        Ninja reads a body into the operation's parameter, so its places name that parameter
        (`["body", "body", "mode"]`), which the client never sees: drop it.
        """
        errors = []
        for context in error_contexts:
            placed = super().validation_error_from_error_contexts([context]).errors
            if getattr(context.model, "__read_from_single_attr__", None):
                placed = [{**e, "loc": [e["loc"][0], *e["loc"][2:]]} for e in placed]
            errors += placed
        return ValidationError(errors)
