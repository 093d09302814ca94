"""Continuous evaluation in a real browser: traffic arrives, rows follow, delta runs score them.

Traffic comes through the API, as a chatbot sends it. Everything else is done in the UI: a
session-mode dataset, a rule whose live preview counts what it would take and which backfills
the sessions already ended, a `contains` evaluator tried in its test panel, and a config over
the dataset that runs on every append. Then more sessions end: the open config page shows a
delta run of just the rows the rule adds, started and completed, without a reload; the dataset
page shows the rows, the run's page their results and aggregates, and the trend page a point
per delta run.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.test_security import watch
from tests.running import Api

BOT = "flow-bot"
# From the end of a session to its delta run's aggregates: a kick, a tick, a batch, the
# aggregates task; seconds, with room for a loaded two-core machine.
ARRIVAL_MS = 45_000
# The dataset page's rules section refreshes itself every 10 s.
SECTION_MS = 30_000


def conversation(external_id: str, question: str, *, ended: bool) -> dict[str, Any]:
    return {
        "chatbot": BOT,
        "external_id": external_id,
        "ended": ended,
        "messages": [
            {"external_id": "q", "role": "human", "content": question},
            {"external_id": "a", "role": "ai", "content": f"About “{question}”: on it."},
        ],
    }


def end(external_id: str) -> dict[str, Any]:
    return {"chatbot": BOT, "external_id": external_id, "ended": True}


def send(api: Api, *sessions: dict[str, Any]) -> None:
    api.post("/traffic", {"sessions": list(sessions)})


def reload_until_counted(page: Page, locator: Locator, count: int, *, timeout_ms: int) -> None:
    """Reload a page that does not refresh itself until it holds `count` of `locator`."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        try:
            expect(locator).to_have_count(count, timeout=2_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        page.reload()


@pytest.fixture(scope="module")
def first_traffic(api: Api) -> None:
    api.post("/chatbots", {"slug": BOT, "name": "Flow bot"})
    send(
        api,
        conversation("f-1", "I want a refund for order 17", ended=True),
        conversation("f-2", "Where is my parcel?", ended=True),
        conversation("f-3", "Can I change the address?", ended=False),
    )


def test_ended_sessions_flow_into_the_dataset_and_delta_runs_score_them(
    first_traffic, api, logged_in_page
):
    page = logged_in_page
    problems = watch(page)
    menu = page.get_by_role("navigation", name="Main")

    menu.get_by_role("link", name="Datasets").click()
    page.get_by_label("Name").fill("Flow conversations")
    page.get_by_label("Mode").select_option("session")
    page.get_by_role("button", name="Create dataset").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Flow conversations")
    dataset_url = page.url

    # The rule: the preview counts the ended sessions; a start in the past backfills them.
    page.get_by_role("link", name="Add a rule").click()
    page.get_by_label("Source chatbot").select_option(label="Flow bot")
    expect(page.get_by_test_id("preview-count")).to_have_text("2")
    two_days_ago = datetime.now(UTC) - timedelta(days=2)  # in the past in any time zone
    page.get_by_label("Start at").fill(two_days_ago.strftime("%Y-%m-%dT%H:%M"))
    expect(page.get_by_test_id("rule-preview")).to_contain_text("it would add 2 sessions now")
    page.get_by_role("button", name="Create rule").click()
    expect(page.get_by_test_id("backfill-count")).to_have_text("2")
    page.get_by_role("button", name="Confirm and save").click()
    expect(page).to_have_url(f"{dataset_url}#auto-population-rules")
    rules = page.locator("#auto-population-rules [data-testid=rule]")
    expect(rules).to_have_count(1)
    expect(rules.first).to_contain_text("Flow bot")
    contributed = rules.first.get_by_test_id("rows-contributed")
    expect(contributed).to_have_text("2 rows", timeout=SECTION_MS)  # the section refreshes
    page.reload()
    expect(page.locator("table.rows tbody tr")).to_have_count(2)

    # A deterministic evaluator, tried in its test panel before it scores anything.
    menu.get_by_role("link", name="Evaluators").click()
    page.get_by_role("link", name="New evaluator").click()
    page.get_by_label("Name").fill("Asks for a refund")
    with page.expect_response(lambda response: "kind=contains" in response.url):
        page.get_by_label("Kind").select_option(label="Contains words")  # htmx swaps its fields
    page.get_by_label("Words").fill("refund")
    page.get_by_role("button", name="Create evaluator").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Asks for a refund")
    page.get_by_label("Output:", exact=True).fill("Your refund is on its way.")
    page.get_by_role("button", name="Test").click()
    outcome = page.get_by_test_id("test-outcome")
    expect(outcome).to_contain_text("match")
    expect(outcome).to_contain_text("true")

    # A config over the dataset that runs on every append; the backfilled rows came before it.
    menu.get_by_role("link", name="Evaluations").click()
    page.get_by_role("link", name="New config").click()
    page.get_by_label("Name").fill("Refund watch")
    page.get_by_label("Dataset").select_option(label="Flow conversations")
    page.get_by_label("Asks for a refund").check()
    page.get_by_label("Run automatically on every append").check()
    page.get_by_role("button", name="Create config").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Refund watch")
    expect(page.get_by_text("auto-run", exact=True)).to_be_visible()
    expect(page.locator("#run-history")).to_contain_text("No runs yet.")
    config_url = page.url

    # Three sessions end while the config page is open (one was open all along); one stays open.
    page.evaluate("window.notReloaded = true")
    send(
        api,
        end("f-3"),
        conversation("g-1", "Refund me, the box was empty", ended=True),
        conversation("g-2", "Do you ship abroad?", ended=True),
        conversation("g-3", "Hello?", ended=False),
    )
    history = page.locator("#run-history tbody tr")
    expect(history).to_have_count(1, timeout=ARRIVAL_MS)  # the history refreshes itself
    delta = history.first
    expect(delta).to_contain_text("delta")
    expect(delta).to_contain_text("3 new rows")
    expect(delta.get_by_test_id("run-status")).to_have_text("completed", timeout=ARRIVAL_MS)
    expect(delta).to_contain_text("3 / 3")
    assert page.evaluate("window.notReloaded === true")

    page.goto(dataset_url)
    expect(contributed).to_have_text("5 rows")
    expect(page.locator("table.rows tbody tr")).to_have_count(5)
    expect(page.get_by_test_id("row-count")).to_have_text("5 rows")

    page.goto(config_url)
    delta.get_by_role("link", name=re.compile(r"^#\d+$")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Refund watch")
    expect(page.get_by_test_id("run-status")).to_have_text("completed")
    # Session rows hold the transcript, not an output: the check of the output finds nothing.
    expect(page.locator("table.results tbody tr")).to_have_count(3)
    expect(page.locator("table.results tbody")).not_to_contain_text("error")
    expect(page.get_by_test_id("true-rate")).to_have_text("0%", timeout=ARRIVAL_MS)
    expect(page.locator(".aggregate[data-field=match]")).to_contain_text("0 true of 3")

    # Another session ends: a second delta run, of its one row, and a second point.
    page.goto(config_url)
    send(api, end("g-3"))
    expect(history).to_have_count(2, timeout=ARRIVAL_MS)
    expect(history.first).to_contain_text("1 new row")
    expect(history.first.get_by_test_id("run-status")).to_have_text("completed", timeout=ARRIVAL_MS)

    page.get_by_role("link", name="Trend").click()
    expect(page.get_by_role("img", name=re.compile("Asks for a refund · match"))).to_be_visible()
    points = page.locator(".trend-chart table tbody tr")
    # A run is a point once its aggregates are computed, a task of its own after it completes.
    reload_until_counted(page, points, 2, timeout_ms=ARRIVAL_MS)
    page.get_by_text("Data table").click()
    counts = [points.nth(n).locator("td").nth(5) for n in (0, 1)]
    expect(points.nth(0)).to_contain_text("delta")
    expect(points.nth(1)).to_contain_text("delta")
    assert sorted(count.inner_text() for count in counts) == ["1", "3"]
    assert problems == []
