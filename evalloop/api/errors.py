"""Every API error answers one JSON shape: `{"detail": [{"loc": [...], "msg": "..."}, ...]}`.

`loc` says where each problem lies. Its first item names the part of the request, as
pydantic and ninja do: `"path"`, `"query"`, `"body"` or `"file"`; the rest is the place inside
it, e.g. `["body", "filter", 2, "value"]` or `["query", "cursor"]`. A problem with the request
as a whole (not found, forbidden, a conflict with the state, a busy database) has `loc: []`;
a conflict with one value sent (a taken name) is placed at that field, `["body", "name"]`.

Code raises; the handlers below render. One function per mapped exception.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.core.exceptions import (
    NON_FIELD_ERRORS,
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.http.request import RawPostDataException
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.responses import NinjaJSONEncoder
from pydantic import ConfigDict

from evalloop.api.parser import UnreadableBody
from evalloop.filters import FilterError
from evalloop.lib import busy
from evalloop.lib.errors import Conflict, Invalid
from evalloop.teams.throttle import Throttled as TooManyFailures

Loc = list[str | int]
CONTENT_TYPE = "application/json; charset=utf-8"  # as the API's answers that succeed


class Problem(Schema):
    """One problem: where it lies and what is wrong; `type` is a machine-readable kind."""

    model_config = ConfigDict(extra="allow")

    loc: Loc
    msg: str
    type: str | None = None


class Error(Schema):
    """The body of every API error."""

    detail: list[Problem]


def answers(*statuses: int) -> dict[int, type[Error]]:
    """Declare error statuses an operation answers beyond those every operation does."""
    return dict.fromkeys(statuses, Error)


def problem(msg: str, *loc: str | int, type: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"loc": list(loc), "msg": msg}
    if type is not None:
        item["type"] = type
    return item


def answer(status: int, detail: str | Sequence[Mapping[str, Any]]) -> HttpResponse:
    """The JSON error response; a bare message is a problem with the request as a whole."""
    items = [problem(detail)] if isinstance(detail, str) else list(detail)
    return JsonResponse(
        {"detail": items}, status=status, encoder=NinjaJSONEncoder, content_type=CONTENT_TYPE
    )


def filter_problems(exc: FilterError, *at: str) -> list[dict[str, Any]]:
    """A FilterError's problems placed under `at` (e.g. "query", "filter"), naming each clause."""
    return [
        problem(text, *at, *(p for p in (e["index"], e["field"]) if p is not None), type="filter")
        for e, text in zip(exc.errors, exc.messages(), strict=True)
    ] or [problem(str(exc), *at, type="filter")]


def on_invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return answer(422, [{**error, "loc": list(error.get("loc", []))} for error in exc.errors])


def on_django_invalid(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    if not hasattr(exc, "error_dict"):
        return answer(422, [problem(message) for message in exc.messages])
    # Services name the input fields they refuse, and every such field comes in the body.
    items = []
    for field, messages in exc.message_dict.items():
        place = [] if field == NON_FIELD_ERRORS else [field]
        items.append(problem(" ".join(messages), "body", *place))
    return answer(422, items)


def on_service_invalid(request: HttpRequest, exc: Invalid) -> HttpResponse:
    # Services place each problem inside the input, which comes in the body.
    return answer(422, [problem(message, "body", *loc) for loc, message in exc.problems])


def on_filter_error(request: HttpRequest, exc: FilterError) -> HttpResponse:
    # A filter that reaches here unplaced came in the body; one from the query is placed there.
    return answer(422, filter_problems(exc, "body", "filter"))


def on_unreadable_body(request: HttpRequest, exc: UnreadableBody) -> HttpResponse:
    return answer(422, [problem(str(exc), "body", type="json_invalid")])


def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, UnreadableBody):
        # Ninja wraps whatever the body parser raises in a bare 400.
        return on_unreadable_body(request, exc.__cause__)
    return answer(exc.status_code, str(exc))


def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = answer(401, "Send a valid team API key: `Authorization: Bearer <key>`.")
    response["WWW-Authenticate"] = "Bearer"
    return response


def on_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    response = answer(429, str(exc))
    if exc.wait is not None:
        response["Retry-After"] = str(math.ceil(exc.wait))
    return response


def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return answer(404, "Not found.")


def on_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return answer(403, str(exc) or "Forbidden.")


def on_conflict(request: HttpRequest, exc: Conflict) -> HttpResponse:
    # A conflicting value (a taken name) came in the body, like every field services name.
    place = ("body", exc.field) if exc.field else ()
    return answer(409, [problem(str(exc), *place)])


def on_too_many_failures(request: HttpRequest, exc: TooManyFailures) -> HttpResponse:
    response = answer(429, [problem(str(exc), "header", "Authorization")])
    response["Retry-After"] = str(exc.retry_after)
    return response


def on_busy(request: HttpRequest, exc: OperationalError) -> HttpResponse:
    if not busy.is_busy(exc):
        raise exc  # a broken database is a server error, answered as any other
    response = answer(503, busy.MESSAGE)
    response["Retry-After"] = busy.retry_after()
    return response


def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return answer(413, "The request body is too large.")


def on_bad_request(request: HttpRequest, exc: Exception) -> HttpResponse:
    return answer(400, str(exc) or "The request cannot be read.")


def on_unreadable_multipart(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    return answer(400, [problem(f"The multipart body cannot be read: {exc}.", "body")])


def on_form_body(request: HttpRequest, exc: RawPostDataException) -> HttpResponse:
    # A form body, already read as a form, sent to an endpoint that reads JSON.
    message = "This endpoint reads a JSON body: send `Content-Type: application/json`."
    return answer(415, [problem(message, "header", "Content-Type")])


def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    # Django logs it with its traceback; the API middleware answers the JSON 500.
    raise exc


HANDLERS: dict[type[Exception], Callable[[HttpRequest, Any], HttpResponse]] = {
    ValidationError: on_invalid,
    DjangoValidationError: on_django_invalid,
    Invalid: on_service_invalid,
    FilterError: on_filter_error,
    HttpError: on_http_error,
    AuthenticationError: on_unauthenticated,
    Throttled: on_throttled,
    Http404: on_not_found,
    PermissionDenied: on_denied,
    Conflict: on_conflict,
    TooManyFailures: on_too_many_failures,
    RequestDataTooBig: on_too_big,
    OperationalError: on_busy,
    BadRequest: on_bad_request,
    SuspiciousOperation: on_bad_request,
    MultiPartParserError: on_unreadable_multipart,
    RawPostDataException: on_form_body,
    Exception: on_unexpected,
}


def install(api: NinjaAPI) -> None:
    """Render every exception an operation raises by the handler of its nearest class."""
    for exc_class, handler in HANDLERS.items():
        api.exception_handler(exc_class)(handler)
