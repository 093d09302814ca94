"""Every API error answers JSON `{"detail": ...}` naming the problem."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI

from evalloop.filters import FilterError
from evalloop.lib import busy
from evalloop.lib.errors import Conflict
from evalloop.teams.throttle import Throttled


def django_validation_detail(exc: DjangoValidationError) -> list[dict[str, Any]]:
    if hasattr(exc, "error_dict"):
        return [
            {"loc": [field], "msg": " ".join(str(m) for m in messages)}
            for field, messages in exc.message_dict.items()
        ]
    return [{"loc": [], "msg": message} for message in exc.messages]


def install(api: NinjaAPI) -> None:
    def answer(request: HttpRequest, detail: Any, status: int) -> HttpResponse:
        return api.create_response(request, {"detail": detail}, status=status)

    @api.exception_handler(DjangoValidationError)
    def on_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        return answer(request, django_validation_detail(exc), 422)

    @api.exception_handler(PermissionDenied)
    def on_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return answer(request, str(exc) or "Forbidden.", 403)

    @api.exception_handler(Conflict)
    def on_conflict(request: HttpRequest, exc: Conflict) -> HttpResponse:
        return answer(request, str(exc), 409)

    @api.exception_handler(FilterError)
    def on_filter_error(request: HttpRequest, exc: FilterError) -> HttpResponse:
        return answer(request, exc.detail(), 422)

    @api.exception_handler(Throttled)
    def on_throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        detail = [{"loc": ["header", "Authorization"], "msg": str(exc)}]
        response = answer(request, detail, 429)
        response["Retry-After"] = str(exc.retry_after)
        return response

    @api.exception_handler(RequestDataTooBig)
    def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return answer(request, "The request body is too large.", 413)

    @api.exception_handler(OperationalError)
    def on_busy(request: HttpRequest, exc: OperationalError) -> HttpResponse:
        if not busy.is_busy(exc):
            raise exc  # a broken database is a server error, answered as any other
        response = answer(request, [{"loc": [], "msg": busy.MESSAGE}], 503)
        response["Retry-After"] = busy.retry_after()
        return response
