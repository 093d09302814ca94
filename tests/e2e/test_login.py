"""Logging in through a real browser against `evalloop up` (see conftest.py for the server)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.conftest import log_in


def test_a_visitor_is_sent_to_the_login_page(page):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in to evalloop")


def test_a_member_logs_in_and_sees_the_home_page_of_the_team(page, member):
    log_in(page, member)
    expect(page.get_by_role("heading", level=1)).to_have_text(member.team)


def test_a_wrong_password_keeps_the_visitor_on_the_login_page(page, member):
    page.goto("/login/")
    page.get_by_label("E-mail").fill(member.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in to evalloop")


def test_logging_out_returns_to_the_login_page(logged_in_page):
    logged_in_page.get_by_role("button", name="Log out").first.click()
    expect(logged_in_page.get_by_role("heading", level=1)).to_have_text("Log in to evalloop")
