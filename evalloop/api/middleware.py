"""Answer every error under /api/ as JSON, including those Django answers outside the API.

The API's own handlers (evalloop/api/errors.py) render what its operations raise. What they
never see comes here: a path no operation matches (the URL resolver's 404), a method an
operation does not take (405), a host Django refuses (400), and an unexpected exception, which
Django has logged with its traceback by the time its 500 page passes through here.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, HttpResponseBase

from evalloop.api.errors import answer

API_PREFIX = "/api/"
REPLACED_HEADERS = {"content-type", "content-length"}


class ApiErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not request.path_info.startswith(API_PREFIX) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        return as_json(request, response)


def as_json(request: HttpRequest, response: HttpResponseBase) -> HttpResponse:
    replaced = answer(response.status_code, message(request, response))
    # Keep what the answer said besides its body: Allow, Retry-After, security headers.
    for header, value in response.items():
        if header.lower() not in REPLACED_HEADERS:
            replaced[header] = value
    replaced.cookies = response.cookies
    return replaced


def message(request: HttpRequest, response: HttpResponseBase) -> str:
    status = response.status_code
    if status == 404:
        return f"No API operation at {request.path_info}."
    if status == 405:
        return f"{request.method} is not allowed here; allowed: {response.get('Allow', 'none')}."
    if status >= 500:
        return "Internal server error; it was logged."
    try:
        return f"{HTTPStatus(status).phrase}."
    except ValueError:
        return "The request cannot be answered."
