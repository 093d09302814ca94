"""A page that met a busy database answers 503 with Retry-After, in the layout, never a 500."""

from __future__ import annotations

from collections.abc import Callable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from evalloop.lib import busy

TEMPLATE = "503.html"


class BusyDatabaseMiddleware:
    """Answers a view's busy-database error with 503; the view's transaction was rolled back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not busy.is_busy(exception):
            return None
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse(
                {"detail": [{"loc": [], "msg": busy.MESSAGE}]}, status=503
            )
        else:
            response = HttpResponse(_page(request), status=503)
        response["Retry-After"] = busy.retry_after()
        return response


def _page(request: HttpRequest) -> str:
    context = {"retry_after": busy.RETRY_AFTER_SECONDS}
    try:
        return render_to_string(TEMPLATE, context, request=request)
    except DatabaseError:
        # The layout reads the user's teams; when even that fails, answer without them.
        return render_to_string(TEMPLATE, context)
