"""The API reference page renders the OpenAPI document in a real browser."""

from __future__ import annotations

from playwright.sync_api import expect


def test_the_api_docs_list_every_tag_and_no_error(page):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/api/v1/docs")
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    for tag in ("team", "chat", "filters", "datasets"):
        expect(page.locator(f'.opblock-tag[data-tag="{tag}"]')).to_be_visible()
    expect(page.locator(".errors-wrapper")).to_have_count(0)
    assert errors == []
