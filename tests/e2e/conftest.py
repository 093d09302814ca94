"""End-to-end fixtures: a real `evalloop up`, a member of a team, and Chromium driving it.

One server runs for the whole test session, on a free port with a temporary data dir (its own
SQLite database and embedded broker); it is stopped with Ctrl-C at the end, and the session
fails if `up` does not exit cleanly or leaves any process behind. To add a flow, write a test
taking `logged_in_page` (or `page`, `server` and `member`); create what it needs through
`server.cli(...)` or the UI. These tests never use the Django test database, and the
Playwright sync API runs an event loop: do not use the ORM from them.

Chromium is Debian's (`apt-get install chromium`), driven by Playwright's Python package.
Without it the tests are skipped locally; in CI (CI=true) that is a failure.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.processes import EVALLOOP, descendants, environ, gone, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_SECONDS = 90
STOP_SECONDS = 60


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder `e2e`, so `-m "not e2e"` leaves them out."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path

    def cli(self, *args: str) -> str:
        """Run `evalloop <args>` against this server's data; answer its output."""
        done = subprocess.run(
            [*EVALLOOP, *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"evalloop {' '.join(args)}: {done.stderr}"
        return done.stdout

    def serves(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/login/", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def wait_until_serving(self) -> None:
        ready = wait_until(
            lambda: self.process.poll() is not None or self.serves(), timeout=START_SECONDS
        )
        if not ready or self.process.poll() is not None:
            self.process.kill()
            pytest.fail(f"evalloop up did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> tuple[int, set[int]]:
        """Press Ctrl-C; answer the exit code and the processes still alive after it."""
        started = descendants(self.process.pid)
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=STOP_SECONDS)
        wait_until(lambda: all(gone(pid) for pid in started), timeout=5)
        return code, {pid for pid in started if not gone(pid)}


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("evalloop-up")
    port = _free_port()
    log = data_dir / "up.log"
    env = environ(data_dir, LOG_LEVEL="INFO")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*EVALLOOP, "up", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    running = Server(f"http://127.0.0.1:{port}", data_dir, env, process, log)
    running.wait_until_serving()
    yield running
    code, left = running.stop()
    assert code == 0, f"evalloop up exited with {code}:\n{log.read_text()[-3000:]}"
    assert not left, f"evalloop up left processes behind: {sorted(left)}"


@dataclass(frozen=True)
class Member:
    email: str
    password: str
    team: str


@pytest.fixture(scope="session")
def member(server: Server) -> Member:
    """Answer the owner of a team, both created with the command line."""
    ann = Member(email="ann@example.com", password="a long pass phrase", team="Support team")
    server.cli("createuser", "--email", ann.email, "--password", ann.password, "--name", "Ann")
    server.cli("createteam", "--slug", "support", "--name", ann.team, "--owner", ann.email)
    return ann


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing; install it with `apt-get install chromium`."
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server: Server):  # type: ignore[no-untyped-def]
    """Answer a fresh browser tab (no cookies) whose relative URLs go to the server."""
    from playwright.sync_api import expect

    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(10_000)
    # Assertions wait as long as actions: on a loaded two-core machine a page behind the
    # server's worker and scheduler can take longer than the default five seconds.
    expect.set_options(timeout=10_000)
    yield context.new_page()
    context.close()


def log_in(page, member: Member) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login/")
    page.get_by_label("E-mail").fill(member.email)
    page.get_by_label("Password").fill(member.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/")


@pytest.fixture
def logged_in_page(page, member: Member):  # type: ignore[no-untyped-def]
    """Answer a browser tab logged in as `member`, on the team's home page."""
    log_in(page, member)
    return page


def call(server: Server, key: str, path: str, body: Any) -> Any:
    """POST `body` as JSON to the API of the running server, with a team API key."""
    request = urllib.request.Request(
        f"{server.url}/api/v1{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())
