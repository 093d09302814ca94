"""Long URLs against the real server: evalloop answers them, not gunicorn's HTML 400."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from evalloop.web.middleware import MAX_URL_LENGTH
from tests.processes import Server


def get(server: Server, path: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"{server.url}{path}", timeout=30) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def test_a_url_under_the_limit_reaches_evalloop(server: Server) -> None:
    status, kind, _ = get(server, "/api/v1/chatbots?x=" + "x" * 6000)
    assert (status, kind) == (401, "application/json; charset=utf-8")


def test_a_url_over_the_limit_answers_414_in_json(server: Server) -> None:
    status, kind, body = get(server, "/api/v1/chatbots?x=" + "x" * MAX_URL_LENGTH)
    assert (status, kind) == (414, "application/json")
    assert "sessions/search" in json.loads(body)["detail"][0]["msg"]
