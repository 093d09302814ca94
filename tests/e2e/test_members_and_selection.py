"""Adding a member by e-mail address, and ticking a whole page of sessions, in a browser.

An owner adds an address that has no account and passes the link shown on to the newcomer,
who sets a password with it and lands on the team. On a sessions list the select-all box
ticks every row, and "Add selected" adds them all to a dataset.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.processes import Server
from tests.running import Api


def test_a_new_member_sets_a_password_with_the_link_and_is_logged_in(
    browser: Any, server: Server, logged_in_page: Any
) -> None:
    page = logged_in_page
    page.goto("/settings/members/")
    page.get_by_label("E-mail").fill("newcomer@example.com")
    page.get_by_label("Role:", exact=True).select_option("editor")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_test_id("password-link")).to_contain_text("newcomer@example.com joined")
    link = page.locator("#password-link").inner_text().strip()

    context = browser.new_context(base_url=server.url)
    try:
        newcomer = context.new_page()
        newcomer.goto(link)
        newcomer.get_by_label("New password:", exact=True).fill("a long and unusual phrase")
        newcomer.get_by_label("New password confirmation:").fill("a long and unusual phrase")
        newcomer.get_by_role("button", name="Set password").click()
        expect(newcomer.locator(".flash")).to_contain_text("Your password is set")
        newcomer.goto(link)
        expect(newcomer.get_by_role("alert")).to_contain_text("used already")
    finally:
        context.close()

    page.goto("/settings/members/")
    row = page.locator("tr", has_text="newcomer@example.com")
    expect(row).not_to_contain_text("no password yet")


@pytest.fixture(scope="module")
def picked_traffic(api: Api) -> None:
    api.post("/chatbots", {"slug": "pick-bot", "name": "Pick bot"})
    sessions = [
        {
            "chatbot": "pick-bot",
            "external_id": f"p-{n}",
            "ended": True,
            "messages": [{"role": "human", "content": f"question {n}"}],
        }
        for n in range(3)
    ]
    api.post("/traffic", {"sessions": sessions})


def test_select_all_ticks_the_page_and_adds_it_to_a_dataset(
    picked_traffic: None, logged_in_page: Any
) -> None:
    page = logged_in_page
    page.goto("/datasets/")
    page.get_by_label("Name").fill("Picked by hand")
    page.get_by_label("Mode").select_option("session")
    page.get_by_role("button", name="Create dataset").click()

    page.goto("/chatbots/pick-bot/sessions/")
    expect(page.get_by_test_id("session-count")).to_have_text("3 sessions")
    select_all = page.get_by_label("Select every session on this page")
    select_all.check()
    expect(page.locator("tbody input[name=session]:checked")).to_have_count(3)
    page.locator("tbody input[name=session]").first.uncheck()
    expect(select_all).not_to_be_checked()
    select_all.check()
    page.get_by_label("Add to dataset").select_option(label="Picked by hand")
    page.get_by_role("button", name="Add selected").click()
    expect(page.locator(".flash")).to_contain_text("3 rows added")
