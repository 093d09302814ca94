"""Middleware of the web shell."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

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
