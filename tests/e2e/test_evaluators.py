"""Evaluators in a real browser: the kind's own fields, the test panel, long values.

The member picks the python kind (the form swaps in its fields by HTMX), writes a function
and its output schema, then tries it on pasted text. The function runs in the sandbox of
the server started by `evalloop up`; the answer comes back into the page without a reload.
"""

from __future__ import annotations

import json

from playwright.sync_api import expect

from tests.e2e.test_security import watch

CODE = """def evaluate(row):
    return {"polite": "sorry" in row["output"].lower(), "words": len(row["output"].split())}
"""
SCHEMA = {"fields": [{"name": "polite", "type": "boolean"}, {"name": "words", "type": "number"}]}


def test_a_member_writes_a_python_evaluator_and_tries_it(logged_in_page):
    page = logged_in_page
    problems = watch(page)
    page.get_by_role("link", name="Evaluators").click()
    page.get_by_role("link", name="New evaluator").click()
    page.get_by_label("Name").fill("Polite, in Python")
    page.get_by_label("Kind").select_option(label="Python function")
    page.get_by_label("Code").fill(CODE)
    # The output schema's table of fields writes the JSON box behind it.
    page.get_by_label("Field name").fill("polite")
    page.get_by_label("Field type").select_option("boolean")
    page.get_by_role("button", name="Add a field").click()
    page.get_by_label("Field name").nth(1).fill("words")
    expect(page.get_by_label("Min").nth(1)).to_be_visible()  # bounds show for numbers only
    expect(page.get_by_label("Min").first).to_be_hidden()
    assert json.loads(page.locator("textarea[name=output_schema]").input_value()) == SCHEMA
    page.get_by_role("button", name="Create evaluator").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Polite, in Python")

    page.get_by_label("Output:", exact=True).fill("Sorry, the parcel is late.")
    page.get_by_role("button", name="Test").click()
    outcome = page.get_by_test_id("test-outcome")
    expect(outcome).to_contain_text("polite")
    expect(outcome).to_contain_text("true")
    expect(outcome).to_contain_text("5")

    page.reload()
    expect(page.get_by_test_id("test-outcome")).to_have_count(0)  # nothing was stored

    # A value the server refuses (a NUL character) swaps nothing in: the page says so.
    page.get_by_label("Output:", exact=True).fill("nul \x00 here")
    page.get_by_role("button", name="Test").click()
    expect(page.get_by_role("alert")).to_contain_text("could not accept")
    assert [problem for problem in problems if "400" not in problem] == []


LONG_LINE = "    labels = [" + ", ".join(f"'label-{n}'" for n in range(40)) + "]"
WIDE_CODE = f"def evaluate(row):\n{LONG_LINE}\n    return {{'tone': labels[0]}}\n"
CHOICE = "x" * 100  # a choice without a place to break


def test_a_long_code_line_or_choice_does_not_widen_the_page(api, logged_in_page):
    schema = {"fields": [{"name": "tone", "type": "category", "choices": ["label-0", CHOICE]}]}
    body = {
        "name": "Wide",
        "kind": "python",
        "params": {"code": WIDE_CODE},
        "output_schema": schema,
    }
    evaluator = api.post("/evaluators", body)
    page = logged_in_page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/evaluators/{evaluator['id']}/")
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"
