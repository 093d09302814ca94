"""The simulator waits out a busy or absent server, resends, and stops cleanly on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable

import httpx2 as httpx
import pytest

from evalloop.demo import simulator
from evalloop.demo.login import Login, login_path, write_login
from evalloop.demo.simulator import Sender

BATCH = {"sessions": [{"chatbot": "bot", "external_id": "s-1"}]}
STORED = {"sessions_created": 1, "sessions_updated": 0, "messages_created": 0}
Answer = Callable[[httpx.Request], httpx.Response]


def sender(*answers: Answer) -> tuple[Sender, list[httpx.Request], list[str]]:
    """A sender to a server answering each request with the next of `answers`."""
    seen: list[httpx.Request] = []
    said: list[str] = []
    script = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return script.pop(0)(request)

    client = httpx.Client(base_url="http://demo.test/api/v1", transport=httpx.MockTransport(handle))
    return Sender(client, threading.Event(), said.append), seen, said


def busy(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503, headers={"Retry-After": "0"}, json={"detail": "busy"})


def throttled(request: httpx.Request) -> httpx.Response:
    return httpx.Response(429, headers={"Retry-After": "0"}, json={"detail": "slow down"})


def stored(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=STORED)


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def test_a_busy_server_gets_the_same_batch_again_after_retry_after():
    send, seen, said = sender(busy, throttled, stored)
    started = time.monotonic()
    assert send.send(BATCH) == STORED
    assert [request.content for request in seen] == [seen[0].content] * 3
    assert time.monotonic() - started >= 2 * 0.5  # Retry-After: 0 still waits a moment
    assert said == [
        "the server is busy (503); sending again after Retry-After.",
        "the server is busy (429); sending again after Retry-After.",
    ]


def test_a_server_not_answering_yet_is_waited_for(monkeypatch):
    monkeypatch.setattr(simulator, "UNREACHABLE_WAIT", 0.01)
    send, seen, said = sender(unreachable, unreachable, stored, stored)
    assert send.wait_for_server()
    assert [request.url.path for request in seen] == ["/api/v1/team"] * 3
    assert send.send(BATCH) == STORED
    assert said == []  # waiting at start is expected, not a problem


def test_a_refused_batch_is_left_out_and_said():
    refused = httpx.Response(422, json={"detail": [{"loc": ["body"], "msg": "bad"}]})
    send, _, said = sender(lambda request: refused)
    assert send.send(BATCH) is None
    assert "refused" in said[0]


def test_a_stopped_sender_sends_nothing_more():
    send, seen, _ = sender(busy, stored)
    send.stop.set()
    assert send.send(BATCH) is None
    assert send.wait_for_server() is False
    assert seen == []


@pytest.mark.parametrize(
    ("header", "wait"), [("3", 3.0), ("0", 0.5), ("9999", 30.0), ("soon", 1.0), (None, 1.0)]
)
def test_retry_after_is_read_within_bounds(header, wait):
    headers = {"Retry-After": header} if header is not None else {}
    assert simulator.retry_after(httpx.Response(503, headers=headers)) == wait


def test_without_a_login_file_it_says_how_to_start(tmp_path, capsys):
    assert simulator.main(["--url", "http://127.0.0.1:9", "--login", str(tmp_path / "x")]) == 1
    assert "evalloop demo" in capsys.readouterr().err


def test_sigterm_stops_it_at_once_with_exit_code_0(tmp_path):
    path = login_path(tmp_path)
    write_login(path, Login(email="demo@example.com", password="p", api_key="ev_x_y"))
    # Port 9 (discard) refuses connections: the simulator waits for a server that never comes.
    argv = simulator.command(url="http://127.0.0.1:9", login=path)
    process = subprocess.Popen(argv, stderr=subprocess.PIPE)
    time.sleep(1.5)
    assert process.poll() is None
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert time.monotonic() - started < 3
