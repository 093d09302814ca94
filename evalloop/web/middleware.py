"""Refuse a URL longer than evalloop reads, in the caller's terms: JSON on /api/, a page.

The limit sits below the web server's own (gunicorn's request line, see
evalloop/lib/processes.py), so that a long URL reaches evalloop and is answered here, with a
way out, rather than with the server's bare HTML 400. A filter too long for a URL goes in a
request body instead (POST /api/v1/chatbots/{slug}/sessions/search).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

MAX_URL_LENGTH = 8000  # characters of path and query string, as sent
SEARCH = "POST /api/v1/chatbots/{slug}/sessions/search"


def url_length(request: HttpRequest) -> int:
    return len(request.get_full_path())


class UrlLengthMiddleware:
    """Answers 414 for a URL longer than MAX_URL_LENGTH."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        length = url_length(request)
        if length <= MAX_URL_LENGTH:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            message = (
                f"The URL is {length} characters long; at most {MAX_URL_LENGTH} are read. "
                f"Send a long filter in a request body instead: {SEARCH}."
            )
            return JsonResponse({"detail": [{"loc": ["url"], "msg": message}]}, status=414)
        context = {"length": length, "limit": MAX_URL_LENGTH, "back": request.path}
        context["previous"] = previous_page(request)
        return render(request, "web/url_too_long.html", context, status=414)


def previous_page(request: HttpRequest) -> str | None:
    """The page the link came from (its filter, before the clause too many), if it is ours."""
    referer = request.headers.get("Referer", "")
    ours = url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()})
    parts = urlsplit(referer)
    return referer if ours and len(f"{parts.path}?{parts.query}") <= MAX_URL_LENGTH else None
