"""Middleware of the web shell: requests evalloop answers before any view reads them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme

from evalloop.lib import busy
from evalloop.lib.inputs import text_problem

Problem = tuple[list[str], str]


class RefuseUnstorableText:
    """Answer 400 for a request whose URL, query, headers or form hold unstorable text.

    No database can compare a NUL character or a lone surrogate, so one in a path
    (`/sessions/a%00b`), a query parameter, a form field or the API key would otherwise fail
    deep inside a query. A cookie holding one is dropped, as if it had not been sent, so a
    tampered session cookie only logs the browser out. JSON bodies are checked by the API's
    input models (`evalloop.lib.inputs.Strict`), which name the field.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for name, value in list(request.COOKIES.items()):
            if text_problem(name) or text_problem(value):
                del request.COOKIES[name]
        status = 400
        try:
            problem = self.problem(request)
        except MultiPartParserError as exc:
            problem = ["body"], f"The multipart body cannot be read: {exc}."
        except RequestDataTooBig:
            status, problem = 413, (["body"], "The request body is too large.")
        except (TooManyFieldsSent, TooManyFilesSent) as exc:
            problem = ["body"], f"The form body cannot be read: {exc}"
        if problem is None:
            return self.get_response(request)
        loc, reason = problem
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": [{"loc": loc, "msg": reason}]}, status=status)
        # Answered here rather than raised, so the log gets a line, not a traceback per request.
        return HttpResponse(render_to_string("400.html", {"reason": reason}), status=status)

    def problem(self, request: HttpRequest) -> Problem | None:
        if (reason := text_problem(request.path)) is not None:
            return ["path"], f"The URL {reason}."
        for key, value in request.META.items():
            if key.startswith("HTTP_") and isinstance(value, str) and text_problem(value):
                name = key.removeprefix("HTTP_").replace("_", "-").title()
                return ["header", name], f"The {name} header {text_problem(value)}."
        query = self.fields_problem("query", request.GET.lists())
        if query is None and request.method == "POST" and self.is_form(request):
            return self.fields_problem("form", request.POST.lists())
        return query

    @staticmethod
    def is_form(request: HttpRequest) -> bool:
        return request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data")

    @staticmethod
    def fields_problem(where: str, fields: Iterable[tuple[str, list[str]]]) -> Problem | None:
        for key, values in fields:
            for text in (key, *values):
                if (reason := text_problem(text)) is not None:
                    return [where, key], f"The {where} field {key!r} {reason}."
        return None


MAX_URL_LENGTH = 8000  # characters of path and query string, as sent
SEARCH = "POST /api/v1/chatbots/{slug}/sessions/search"


def url_length(request: HttpRequest) -> int:
    return len(request.get_full_path())


class UrlLengthMiddleware:
    """Answer 414 for a URL longer than evalloop reads: JSON on /api/, a page elsewhere.

    The limit sits below the web server's own (gunicorn's request line, see
    evalloop/lib/processes.py), so that a long URL reaches evalloop and is answered here, with
    a way out, rather than with the server's bare HTML 400. A filter too long for a URL goes
    in a request body instead (POST /api/v1/chatbots/{slug}/sessions/search).
    """

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
            return JsonResponse({"detail": [{"loc": [], "msg": message}]}, status=414)
        context = {"length": length, "limit": MAX_URL_LENGTH, "back": request.path}
        context["previous"] = previous_page(request)
        return render(request, "web/url_too_long.html", context, status=414)


def previous_page(request: HttpRequest) -> str | None:
    """The page the link came from (its filter, before the clause too many), if it is ours."""
    referer = request.headers.get("Referer", "")
    ours = url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()})
    parts = urlsplit(referer)
    return referer if ours and len(f"{parts.path}?{parts.query}") <= MAX_URL_LENGTH else None


Handler = Callable[[HttpRequest], HttpResponseBase]


def secure_cookies_over_https(get_response: Handler) -> Handler:
    """Mark every cookie Secure when the request came over HTTPS.

    So the login and CSRF cookies never travel in clear once a site is served over TLS, while
    the same settings still let a browser log in on plain http://127.0.0.1 (where a Secure
    cookie is refused by some browsers, and by all on any other plain-HTTP address).
    """

    def middleware(request: HttpRequest) -> HttpResponseBase:
        response = get_response(request)
        if request.is_secure():
            for morsel in response.cookies.values():
                morsel["secure"] = True
        return response

    return middleware


BUSY_TEMPLATE = "503.html"


class BusyDatabaseMiddleware:
    """Answer a view's busy-database error with 503 and Retry-After, in the layout, never 500.

    The view's transaction was rolled back, so nothing was written: the client retries.
    """

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
        return render_to_string(BUSY_TEMPLATE, context, request=request)
    except DatabaseError:
        # The layout reads the user's teams; when even that fails, answer without them.
        return render_to_string(BUSY_TEMPLATE, context)
