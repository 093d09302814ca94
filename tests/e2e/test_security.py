"""The product as `evalloop up` serves it (DEBUG off): its security headers hold in a browser.

The Content-Security-Policy allows no inline script or style and no eval, so every page and
every htmx exchange is checked for violations reported in the console.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Member, log_in, team_api
from tests.processes import Server

CSP_MARKS = ("Content Security Policy", "Content-Security-Policy")


def watch(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Answer a list that fills with the page's CSP violations and uncaught script errors."""
    problems: list[str] = []

    def on_console(message) -> None:  # type: ignore[no-untyped-def]
        if any(mark in message.text for mark in CSP_MARKS):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    return problems


@pytest.fixture(scope="module")
def carol(server: Server) -> Member:
    """Answer the owner of a team of her own, so that what she creates stays out of others' way."""
    carol = Member(email="carol@example.com", password="carol's long pass phrase", team="CSP")
    server.cli("createuser", "--email", carol.email, "--password", carol.password)
    server.cli("createteam", "--slug", "csp", "--name", carol.team, "--owner", carol.email)
    return carol


@pytest.fixture(scope="module")
def csp_bot(server: Server, carol: Member) -> str:
    api = team_api(server, "csp", "csp")
    api.post("/chatbots", {"slug": "csp-bot", "name": "CSP bot"})
    messages = [
        {"external_id": "q", "role": "human", "content": "=1+2 is a formula"},
        {"external_id": "a", "role": "ai", "content": "-5 is a number"},
    ]
    batch = {"sessions": [{"chatbot": "csp-bot", "external_id": "c-1", "messages": messages}]}
    api.post("/traffic", batch)
    return "csp-bot"


def test_no_page_or_htmx_exchange_breaks_the_content_security_policy(page, carol, csp_bot):
    problems = watch(page)
    log_in(page, carol)

    page.goto(f"/chatbots/{csp_bot}/sessions/")
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_label("Field").select_option("participant")  # htmx swaps the clause in
    expect(page.get_by_label("Field")).to_have_value("participant")
    page.get_by_role("link", name="c-1").click()
    page.get_by_placeholder("add a tag").first.fill("csp-checked")
    page.get_by_role("button", name="Add", exact=True).first.click()  # htmx swaps the tags in
    expect(page.get_by_text("csp-checked")).to_be_visible()

    page.goto("/datasets/")
    page.get_by_label("Name").fill("CSP rows")
    page.get_by_role("button", name="Create dataset").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("CSP rows")
    detail = page.url.rstrip("/")
    for path in (
        f"{detail}/import/",
        f"{detail}/csv/upload/",
        f"{detail}/rows/new/",
        f"{detail}/edit/",
        f"/chatbots/{csp_bot}/import/",
        "/",
        "/settings/",
        "/settings/members/",
        "/settings/api-keys/",
        "/settings/features/",
        "/notifications/",
        "/no-such-page/",
    ):
        response = page.goto(path)
        assert response.status == (404 if path == "/no-such-page/" else 200), path
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    assert problems == []


def test_the_api_documentation_keeps_to_the_policy(page):
    problems = watch(page)
    page.goto("/api/v1/docs")
    page.wait_for_load_state("networkidle")
    assert [p for p in problems if not p.startswith("uncaught")] == []


def test_every_page_sends_the_policy_and_no_hsts_over_plain_http(server):
    with urllib.request.urlopen(f"{server.url}/login/", timeout=5) as response:
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "Strict-Transport-Security" not in response.headers


def test_static_files_come_from_the_collected_folder(server):
    url = f"{server.url}/static/js/evalloop.js"
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        assert b"data-submit-on-change" in response.read()
    assert (server.data_dir / "static" / "js" / "evalloop.js").exists()


def test_a_missing_page_is_the_friendly_404(server):
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{server.url}/no-such-page/", timeout=5)
    assert caught.value.code == 404
    body = caught.value.read().decode()
    assert "Not found" in body
    assert "Traceback" not in body
    assert 'class="topbar"' in body


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_logging_in_works_over_plain_http_at_either_loopback_name(browser, server, member, host):
    url = server.url.replace("127.0.0.1", host)
    context = browser.new_context(base_url=url)
    try:
        page = context.new_page()
        log_in(page, member)
        expect(page.get_by_role("heading", level=1)).to_have_text(member.team)
        cookies = {cookie["name"]: cookie for cookie in context.cookies()}
        assert cookies["sessionid"]["secure"] is False  # plain HTTP: Secure is for HTTPS
    finally:
        context.close()


def test_the_team_switcher_submits_on_change_without_inline_script(page, server):
    bob = Member(email="bob@example.com", password="another long pass phrase", team="Bob's A")
    server.cli("createuser", "--email", bob.email, "--password", bob.password)
    server.cli("createteam", "--slug", "bob-a", "--name", "Bob's A", "--owner", bob.email)
    server.cli("createteam", "--slug", "bob-b", "--name", "Bob's B", "--owner", bob.email)
    problems = watch(page)
    log_in(page, bob)
    switch = page.get_by_label("Team")
    other = "bob-b" if switch.input_value() == "bob-a" else "bob-a"
    with page.expect_navigation():
        switch.select_option(other)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(switch).to_have_value(other)
    page.reload()
    expect(switch).to_have_value(other)
    assert problems == []
