"""The OpenAPI document declares every error an operation can answer, with one error schema.

Routers declare what only they know (`response={201: ..., **answers(403, 409)}`); what the
plumbing answers for any operation is declared here, from the operation's shape.
"""

from __future__ import annotations

from typing import Any

from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation
from ninja.schema import NinjaGenerateJsonSchema

from evalloop.api.errors import Error

REF_TEMPLATE = "#/components/schemas/{model}"

DESCRIPTIONS = {
    400: "Malformed request: the server cannot read it (e.g. a multipart body without a "
    "boundary, too many fields).",
    401: "No API key, or not a valid one: `Authorization: Bearer <team API key>`.",
    403: "The API key's role may not do this.",
    404: "Not found, or it belongs to another team.",
    409: "Conflicts with the current state; nothing was written.",
    411: "Send the body with a Content-Length header, not chunked.",
    413: "The request body is too large.",
    414: "The URL is too long; send a long filter in a request body instead.",
    422: "Invalid input: `detail` names each problem by its `loc`; nothing was written.",
    429: "Too many requests: retry after `Retry-After` seconds.",
    503: "The database is busy: retry after `Retry-After` seconds; nothing was written.",
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer"},
    }
}
ALWAYS = (400, 414, 422, 503)
AUTHENTICATED = (401, 429)


def implied_statuses(details: dict[str, Any]) -> list[int]:
    """The error statuses the plumbing can answer for an operation described by `details`."""
    statuses = [*ALWAYS]
    if details.get("security"):
        statuses += AUTHENTICATED
    if any(p.get("in") == "path" for p in details.get("parameters", [])):
        statuses.append(404)
    if "requestBody" in details:
        statuses.append(413)
    return statuses


def error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="Error")}}},
    }
    if status in (429, 503):
        response["headers"] = RETRY_AFTER
    return response


class ApiSchema(OpenAPISchema):
    def operation_details(self, operation: Operation) -> dict[str, Any]:
        details = super().operation_details(operation)
        responses = self.numbered(details["responses"])
        for status in implied_statuses(details):
            responses.setdefault(status, error_response(status))
        for status, response in responses.items():
            if status in DESCRIPTIONS:
                response.update(error_response(status))
        details["responses"] = dict(sorted(responses.items()))
        self.add_schema_definitions(error_definitions())
        return details

    def numbered(self, responses: dict[Any, Any]) -> dict[int, Any]:
        """Merge responses keyed by a status string into those keyed by the number.

        JSON has no integer keys: `200` and `"200"` would both print as `"200"`, and a
        document with a duplicated key does not load in the docs page.
        """
        merged: dict[int, Any] = {}
        for status, response in responses.items():
            self.deep_dict_update(merged.setdefault(int(status), {}), response)
        return merged


def error_definitions() -> dict[str, Any]:
    schema = Error.model_json_schema(
        ref_template=REF_TEMPLATE, schema_generator=NinjaGenerateJsonSchema, mode="serialization"
    )
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {**definitions, "Error": schema}
