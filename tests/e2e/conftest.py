"""End-to-end fixtures: a real `evalloop up`, a member of a team, and Chromium driving it.

One server runs for the tests of this folder, on a free port with a temporary data dir and a
short tick. It follows the suite's store (`tests.processes.suite_store`): its own SQLite
database and embedded broker by default; a scratch PostgreSQL database and the suite's Redis
when the suite runs on them, which is why it stops when this folder's tests are done, before
any other test starts a server on that Redis. It is stopped with Ctrl-C, and the tests fail
if `up` does not exit cleanly or leaves any process behind. To add a flow, write a test
taking `logged_in_page` (or `page`, `server` and `member`); create what it needs through
`server.cli(...)`, the API (`api`, or `team_api` for another team) or the UI. These tests
never use the Django test database, and the Playwright sync API runs an event loop: do not
use the ORM from them.

Chromium is Debian's (`apt-get install chromium`), driven by Playwright's Python package.
Without it the tests are skipped locally; in CI (CI=true) that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.processes import Server, evalloop_up, suite_store
from tests.running import Api

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder `e2e`, so `-m "not e2e"` leaves them out."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)


# Rules react to traffic within seconds through kicks; a short tick is the backstop.
TICK_SECONDS = "5"


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("evalloop-up")
    with suite_store("e2e") as store:
        settings = {"LOG_LEVEL": "INFO", "EVALLOOP_TICK_SECONDS": TICK_SECONDS, **store}
        with evalloop_up(data_dir, **settings) as running:
            yield running
            running.stop_cleanly()


@dataclass(frozen=True)
class Member:
    email: str
    password: str
    team: str


@pytest.fixture(scope="package")
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


def team_api(server: Server, team: str, name: str) -> Api:
    """Answer an API client of the running server, with a new editor key of `team`."""
    key = server.cli("apikey", "create", "--team", team, "--name", name).strip().splitlines()[-1]
    return Api(server.url, key)


@pytest.fixture(scope="package")
def api(server: Server, member: Member) -> Api:
    """Answer an API client of the running server, for the team of `member`."""
    return team_api(server, "support", "e2e")
