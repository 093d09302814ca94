"""Auto-population rules from the dataset page, in a real browser.

A member adds a rule: the live preview counts the sessions it would take and follows the
filter as a clause is added; saved, the rule shows in the dataset's rules section. Edited, the
form starts from the rule's filter and keeps what was typed as a clause is removed; its
Delete button removes it from the page without a reload.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.running import Api

BOT = "rules-e2e-bot"


def session(external_id: str, tags: list[str]) -> dict[str, Any]:
    return {
        "chatbot": BOT,
        "external_id": external_id,
        "ended": True,
        "tags": tags,
        "messages": [
            {"external_id": "q", "role": "human", "content": f"Question {external_id}"},
            {"external_id": "a", "role": "ai", "content": f"Answer {external_id}"},
        ],
    }


@pytest.fixture(scope="module")
def dataset_id(api: Api) -> int:
    api.post("/chatbots", {"slug": BOT, "name": "Rules e2e bot"})
    batch = [session("r-1", ["urgent-e2e"]), session("r-2", []), session("r-3", [])]
    assert api.post("/traffic", {"sessions": batch})["sessions_created"] == 3
    dataset = api.post("/datasets", {"name": "Rules e2e", "mode": "session"})
    return int(dataset["id"])


def test_a_member_adds_a_rule_with_a_live_preview_and_deletes_it(dataset_id, logged_in_page):
    page = logged_in_page
    page.goto(f"/datasets/{dataset_id}/")
    page.get_by_role("link", name="Add a rule").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("New rule")

    page.get_by_label("Source chatbot").select_option(label="Rules e2e bot")
    expect(page.get_by_test_id("preview-count")).to_have_text("3")

    page.locator("input[placeholder^='vip']").fill("urgent-e2e")
    page.get_by_role("button", name="Add filter").click()
    expect(page).to_have_url(re.compile(r"f=tags"))
    expect(page.get_by_test_id("preview-count")).to_have_text("1")
    chosen = page.get_by_label("Source chatbot").locator("option:checked")
    expect(chosen).to_have_text("Rules e2e bot")  # the form came along with the filter

    page.get_by_role("button", name="Create rule").click()
    rules = page.locator("#auto-population-rules [data-testid=rule]")
    expect(rules).to_have_count(1)
    expect(rules.first).to_contain_text("tags any of urgent-e2e")
    expect(rules.first).to_contain_text("Rules e2e bot")

    rules.first.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Edit rule")
    expect(page.get_by_test_id("preview-count")).to_have_text("1")  # the rule's own filter
    page.get_by_label("Take a session").select_option("immediate")
    page.get_by_role("link", name=re.compile("Remove filter")).click()
    expect(page.get_by_test_id("preview-count")).to_have_text("3")
    expect(page.get_by_label("Take a session")).to_have_value("immediate")  # carried along
    page.get_by_role("button", name="Save").click()
    expect(rules).to_have_count(1)
    expect(rules.first).not_to_contain_text("tags any of")

    page.evaluate("window.notReloaded = true")
    page.once("dialog", lambda dialog: dialog.accept())
    rules.first.get_by_role("link", name="Delete").click()
    expect(rules).to_have_count(0)
    assert page.evaluate("window.notReloaded === true")
