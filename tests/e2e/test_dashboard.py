"""The dashboard in a real browser: a new team's home fills in as traffic and runs arrive.

A member of a team of her own (so that other flows' data stays out of the counts) opens the
home page of an empty team, then traffic arrives through the API, a dataset is filled from it
and a config that runs on every append is run. The home page shows each step ticked off, the
chatbot's traffic of today, the completed run with its headline figure and the config's
sparkline, and the chatbot's link leads to its sessions.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Member, log_in, team_api
from tests.e2e.test_security import watch
from tests.processes import Server
from tests.running import Api

RUN_SECONDS = 60


@pytest.fixture(scope="module")
def dora(server: Server) -> Member:
    dora = Member(email="dora@example.com", password="dora's long pass phrase", team="Desk")
    server.cli("createuser", "--email", dora.email, "--password", dora.password)
    server.cli("createteam", "--slug", "desk", "--name", dora.team, "--owner", dora.email)
    return dora


@pytest.fixture(scope="module")
def desk(server: Server, dora: Member) -> Api:
    return team_api(server, "desk", "desk")


def conversation(external_id: str, answer: str) -> dict[str, Any]:
    return {
        "chatbot": "help-bot",
        "external_id": external_id,
        "ended": True,
        "messages": [
            {"external_id": "q", "role": "human", "content": "Where is my parcel?"},
            {"external_id": "a", "role": "ai", "content": answer},
        ],
    }


def send_traffic_and_run(api: Api) -> int:
    """Two conversations, a dataset of their replies, and a run of an auto-running config."""
    api.post("/chatbots", {"slug": "help-bot", "name": "Help bot"})
    batch = [conversation("d-1", "Sorry, it is late."), conversation("d-2", "It is on its way.")]
    assert api.post("/traffic", {"sessions": batch})["messages_created"] == 4
    dataset = api.post("/datasets", {"name": "Replies", "mode": "message"})
    imported = api.post(f"/datasets/{dataset['id']}/import", {"chatbot": "help-bot"})
    assert imported["rows_added"] == 2
    words = {"words": ["sorry"], "mode": "any", "case_sensitive": False}
    apology = {"name": "Apology", "kind": "contains", "params": words}
    evaluator = api.post("/evaluators", apology)
    config = api.post(
        "/configs",
        {
            "name": "Politeness",
            "dataset": dataset["id"],
            "evaluators": [evaluator["id"]],
            "auto_run_on_append": True,
        },
    )
    run = api.post(f"/configs/{config['id']}/runs", {"type": "full"})
    deadline = time.monotonic() + RUN_SECONDS
    while not scored(api.get(f"/runs/{run['id']}")):
        assert time.monotonic() < deadline, "the run did not complete"
        time.sleep(0.5)
    return int(run["id"])


def scored(run: dict[str, Any]) -> bool:
    """Whether the run completed and its aggregates are computed."""
    return run["status"] == "completed" and bool(run["aggregates"])


def test_the_home_page_reflects_traffic_and_runs_as_they_arrive(page, dora, desk):
    problems = watch(page)
    log_in(page, dora)
    checklist = page.get_by_test_id("getting-started")
    expect(checklist.locator('[data-step="traffic"]')).not_to_have_class("done")
    expect(checklist.get_by_role("link", name="Send traffic from a chatbot")).to_be_visible()
    expect(page.get_by_test_id("traffic")).to_contain_text("No chatbots yet.")
    expect(page.get_by_test_id("recent-runs")).to_contain_text("No runs yet.")

    run_id = send_traffic_and_run(desk)
    page.reload()

    row = page.get_by_test_id("traffic").locator('tr[data-chatbot="help-bot"]')
    expect(row.locator('[data-count="sessions-today"]')).to_have_text("2")
    expect(row.locator('[data-count="messages-today"]')).to_have_text("4")
    expect(row.locator('[data-count="messages-week"]')).to_have_text("4")
    for step in ("api_key", "traffic", "rows", "run"):
        expect(checklist.locator(f'[data-step="{step}"]')).to_have_class("done")

    ran = page.get_by_test_id("recent-runs").locator(f'[data-run="{run_id}"]')
    expect(ran.get_by_test_id("run-status")).to_have_text("completed")
    expect(ran).to_contain_text("50% true")
    sparkline = page.get_by_test_id("trends").get_by_role("img", name=re.compile("Apology · match"))
    expect(sparkline).to_be_visible()

    row.get_by_role("link", name="Help bot").click()
    expect(page).to_have_url(re.compile(r"/chatbots/help-bot/sessions/$"))
    expect(page.locator("tbody tr")).to_have_count(2)
    assert problems == []
