"""Scoring a dataset in a real browser: a config from the form, a run, its aggregates.

The rows and the evaluator come in through the API; the member creates the config with the
form, presses Run and watches the run page: `evalloop up` runs the worker and the coordinator,
the page polls while the run is unfinished and shows the aggregates once they are computed.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_security import watch
from tests.running import Api

RUN_SECONDS = 60


@pytest.fixture(scope="module")
def scored_dataset(api: Api) -> None:
    dataset = api.post("/datasets", {"name": "Apologies", "mode": "message"})
    for output in ("Sorry, the parcel is late.", "It arrives tomorrow."):
        api.post(f"/datasets/{dataset['id']}/rows", {"input": "Where?", "output": output})
    words = {"words": ["sorry"], "mode": "any", "case_sensitive": False}
    api.post("/evaluators", {"name": "Says sorry", "kind": "contains", "params": words})


def test_a_member_creates_a_config_runs_it_and_reads_the_aggregates(scored_dataset, logged_in_page):
    page = logged_in_page
    problems = watch(page)
    page.get_by_role("link", name="Evaluations").click()
    page.get_by_role("link", name="New config").click()
    page.get_by_label("Name").fill("Politeness")
    page.get_by_label("Dataset").select_option(label="Apologies")
    page.get_by_label("Says sorry").check()
    expect(page.get_by_text("LLM judges included")).to_be_visible()
    page.get_by_role("button", name="Create config").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Politeness")

    page.get_by_role("button", name="Run", exact=True).click()
    expect(page).to_have_url(re.compile(r"/runs/\d+/$"))
    status = page.get_by_test_id("run-status")
    expect(status).to_have_text("completed", timeout=RUN_SECONDS * 1000)
    expect(page.get_by_test_id("true-rate")).to_have_text("50%", timeout=RUN_SECONDS * 1000)
    expect(page.locator("table.results tbody tr")).to_have_count(2)

    page.get_by_role("link", name="Politeness").click()
    expect(page.locator("#run-history tbody tr")).to_have_count(1)
    expect(page.locator("#run-history").get_by_test_id("run-status")).to_have_text("completed")

    page.get_by_role("link", name="Trend").click()
    expect(page.get_by_role("img", name=re.compile("Says sorry · match"))).to_be_visible()
    assert problems == []
