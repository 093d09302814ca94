"""docs/getting-started.md works as written: its Python module, its API calls and its log file.

The examples are read from the page itself and run against evalloop (a live server for the
Python module, the WSGI application in-process for the rest), so the page cannot rot.
"""

from __future__ import annotations

import json
import re
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core import signals
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from django.test import Client

from evalloop.autopopulate import tick as autopopulate
from evalloop.chat.models import Message, Session
from evalloop.runs import coordinator
from evalloop.runs.models import Run
from evalloop.teams import services
from evalloop.teams.models import Team
from evalloop.teams.tests.factories import UserFactory

PAGE = Path(__file__).resolve().parent.parent / "docs" / "getting-started.md"
TEXT = PAGE.read_text()


def block(language: str, *, after: str = "") -> str:
    """The first fenced block of `language` on the page (after the text `after`)."""
    start = TEXT.index(after) if after else 0
    match = re.compile(rf"^```{language}\n(.*?)^```", re.MULTILINE | re.DOTALL).search(TEXT, start)
    assert match, f"no {language} block in {PAGE.name}"
    return match[1]


def api_calls() -> list[tuple[str, Any]]:
    """Each `api <path> '<json>'` line of the page's shell blocks, as (path, body)."""
    calls = re.findall(r"^api (\S+) '(.*?)'", TEXT, re.MULTILINE | re.DOTALL)
    return [(path, json.loads(body)) for path, body in calls]


@pytest.fixture
def snippet(tmp_path: Path) -> Path:
    path = tmp_path / "send_traffic.py"
    path.write_text(block("python", after="<!-- snippet:send-traffic -->"))
    return path


@pytest.fixture
def team(db: None) -> Team:
    owner = UserFactory(email="ann@example.com")
    return services.create_team(slug="support", name="Support team", owner=owner)


@pytest.fixture
def key(team: Team) -> str:
    return services.create_api_key(team=team, name="support-bot").plaintext


@pytest.fixture
def chatbot(team: Team, key: str) -> None:
    body = json.loads(re.search(r"api/v1/chatbots .*?-d '(.*?)'", TEXT, re.DOTALL)[1])  # type: ignore[index]
    response = Client().post("/api/v1/chatbots", body, "application/json", **bearer(key))
    assert response.status_code == 201, response.content


def bearer(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


class BusyOnce(httpx.BaseTransport):
    """evalloop itself, in-process, except that the first request finds it busy."""

    def __init__(self) -> None:
        self.app = httpx.WSGITransport(app=WSGIHandler())
        self.busy = 1

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.busy:
            self.busy -= 1
            return httpx.Response(503, headers={"Retry-After": "0"}, json={"detail": []})
        return self.app.handle_request(request)


@pytest.fixture
def client(key: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {key}"}
    # As Django's test client does: a request must not close the test's own connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        transport = BusyOnce()
        with httpx.Client(base_url="http://testserver", headers=headers, transport=transport) as c:
            yield c
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def helpers(snippet: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("EVALLOOP_API_KEY", "unused")
    return runpy.run_path(str(snippet), run_name="send_traffic")


@pytest.mark.django_db(transaction=True)
def test_the_python_module_sends_a_session_and_ends_it(
    snippet, chatbot, key, live_server, monkeypatch, capsys
):
    monkeypatch.setenv("EVALLOOP_URL", live_server.url)
    monkeypatch.setenv("EVALLOOP_API_KEY", key)
    runpy.run_path(str(snippet), run_name="__main__")
    assert "'messages_created': 3" in capsys.readouterr().out
    session = Session.objects.get(external_id="order-4411")
    assert session.ended_at is not None
    assert list(session.tags.values_list("name", flat=True)) == ["vip"]
    runpy.run_path(str(snippet), run_name="__main__")  # sent again, it stores nothing twice
    assert "'messages_skipped': 3" in capsys.readouterr().out
    assert Message.objects.filter(session=session).count() == 3


def test_the_module_waits_out_a_busy_answer_and_sends_again(snippet, chatbot, client, monkeypatch):
    send_session = helpers(snippet, monkeypatch)["send_session"]
    turns = [{"role": "human", "content": "hi"}, {"role": "ai", "content": "hello"}]
    answer = send_session(client, chatbot="support-bot", session_id="s-1", messages=turns)
    assert answer["messages_created"] == 2
    assert client._transport.busy == 0  # type: ignore[attr-defined]


def test_the_module_raises_a_refusal_with_the_problem_named(snippet, chatbot, client, monkeypatch):
    send_session = helpers(snippet, monkeypatch)["send_session"]
    turns = [{"role": "robot", "content": "beep"}]
    with pytest.raises(RuntimeError, match=r"422 from /api/v1/traffic: .*\"role\""):
        send_session(client, chatbot="support-bot", session_id="s-2", messages=turns)


def test_the_curl_batch_is_accepted_as_shown(chatbot, key):
    shown = re.search(r"api/v1/traffic .*?-d '(.*?)'", TEXT, re.DOTALL)[1]  # type: ignore[index]
    response = Client().post(
        "/api/v1/traffic", json.loads(shown), "application/json", **bearer(key)
    )
    # The page quotes the answer, wrapped over two lines.
    quoted = re.search(r"^answers `(\{.*?\})`", TEXT, re.MULTILINE | re.DOTALL)[1]  # type: ignore[index]
    assert response.json() == json.loads(quoted)


@pytest.mark.django_db(transaction=True, reset_sequences=True)  # the page's ids are 1
def test_the_api_calls_get_a_conversation_evaluated_as_it_ends(
    snippet, chatbot, key, client, monkeypatch
):
    http = Client()
    for path, body in api_calls():
        response = http.post(f"/api/v1/{path}", body, "application/json", **bearer(key))
        assert response.status_code == 201, (path, response.content)
    send_session = helpers(snippet, monkeypatch)["send_session"]
    turns = [
        {"role": "human", "content": "When does it arrive?"},
        {"role": "ai", "content": "On Friday."},
        {"role": "human", "content": "And the other one?"},
        {"role": "ai", "content": "Soon."},
    ]
    send_session(client, chatbot="support-bot", session_id="s-new", messages=turns)
    autopopulate.tick()  # the scheduler's tick, should the write's own kick not have run yet
    coordinator.tick()
    run = Run.objects.get()
    assert (run.type, run.status, run.trigger) == ("delta", "completed", "rule")
    runs = http.get("/api/v1/configs/1/runs", **bearer(key)).json()["items"]
    aggregate = http.get(f"/api/v1/runs/{runs[0]['id']}", **bearer(key)).json()["aggregates"][0]
    assert (aggregate["count"], aggregate["true_rate"]) == (2, 0.5)  # one reply names a day


def test_the_log_file_imports_as_shown(team, chatbot, login):
    editor = team.memberships.get().user
    csv = SimpleUploadedFile("log.csv", block("csv").encode())
    response = login(editor).post("/chatbots/support-bot/import/", {"file": csv})
    assert response.status_code == 302
    session = Session.objects.get(external_id="s-9")
    assert session.participant == "p-1"
    assert Message.objects.filter(session=session).count() == 2
