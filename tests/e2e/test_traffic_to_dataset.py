"""The main flow of traffic into a dataset, in a real browser.

Traffic arrives through the API; a member filters the sessions list with the filter builder,
adds everything that matches to a dataset, follows a row back to its transcript and tags the
session there.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.running import Api


def session(external_id: str, question: str, tags: list[str]) -> dict[str, Any]:
    return {
        "chatbot": "shop-bot",
        "external_id": external_id,
        "participant": f"p-{external_id}",
        "ended": True,
        "messages": [
            {"external_id": "q", "role": "human", "content": question, "tags": tags},
            {"external_id": "a", "role": "ai", "content": f"Answer to: {question}"},
        ],
    }


@pytest.fixture(scope="module")
def traffic(api: Api) -> None:
    api.post("/chatbots", {"slug": "shop-bot", "name": "Shop bot"})
    batch = [
        session("s-1", "I want a refund for order 17", ["refund"]),
        session("s-2", "Where is my parcel?", []),
        session("s-3", "Refund please, it arrived broken", ["refund"]),
    ]
    summary = api.post("/traffic", {"sessions": batch})
    assert summary["sessions_created"] == 3


def test_a_member_filters_sessions_and_adds_the_matches_to_a_dataset(traffic, logged_in_page):
    page = logged_in_page
    page.goto("/datasets/")
    page.get_by_label("Name").fill("Refund conversations")
    page.get_by_label("Mode").select_option("session")
    page.get_by_role("button", name="Create dataset").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Refund conversations")

    page.goto("/chatbots/")
    page.get_by_role("link", name="Shop bot").click()
    expect(page.locator("tbody tr")).to_have_count(3)
    page.locator("input[placeholder^='vip']").fill("refund")
    page.get_by_role("button", name="Add filter").click()
    expect(page).to_have_url(re.compile(r"f=tags"))
    expect(page.locator("tbody tr")).to_have_count(2)

    # Other browser tests share the server and make datasets of their own.
    page.get_by_label("Add to dataset").select_option(label="Refund conversations")
    page.get_by_role("button", name="Add all 2 matching").click()
    expect(page.locator(".flash")).to_contain_text("2 rows added")

    page.goto("/datasets/")
    page.get_by_role("link", name="Refund conversations").click()
    expect(page.locator("tbody tr")).to_have_count(2)


def test_a_member_tags_a_session_on_its_transcript(traffic, logged_in_page):
    page = logged_in_page
    page.goto("/chatbots/")
    page.get_by_role("link", name="Shop bot").click()
    page.get_by_role("link", name="s-2").click()
    expect(page.locator(".transcript")).to_contain_text("Where is my parcel?")
    page.get_by_placeholder("add a tag").fill("lost-parcel")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_text("lost-parcel")).to_be_visible()
    page.reload()
    expect(page.get_by_text("lost-parcel")).to_be_visible()


def test_the_import_page_keeps_the_chosen_chatbot_when_a_filter_is_added(traffic, logged_in_page):
    page = logged_in_page
    page.goto("/datasets/")
    page.get_by_label("Name").fill("Refunds by import")
    page.get_by_label("Mode").select_option("session")
    page.get_by_role("button", name="Create dataset").click()
    page.get_by_role("link", name="Import from traffic…").click()

    # Chosen, not submitted: adding a filter takes the choice along.
    page.get_by_label("Chatbot").select_option(label="Shop bot")
    page.get_by_label("Sample (%)").fill("100")
    page.locator("input[placeholder^='vip']").fill("refund")
    page.get_by_role("button", name="Add filter").click()
    expect(page).to_have_url(re.compile(r"chatbot=shop-bot.*f=tags"))
    expect(page.get_by_label("Chatbot")).to_have_value("shop-bot")
    expect(page.get_by_test_id("import-count")).to_contain_text("2 sessions match the filters")

    page.get_by_role("button", name="Import 2 rows").click()
    expect(page.locator(".flash")).to_contain_text("2 rows added")
