"""An evaluator's page in a real browser: long values stay inside their card."""

from __future__ import annotations

from tests.e2e.conftest import Member, Server, call

LONG_LINE = "    labels = [" + ", ".join(f"'label-{n}'" for n in range(40)) + "]"
CODE = f"def evaluate(row):\n{LONG_LINE}\n    return {{'tone': labels[0]}}\n"
CHOICE = "x" * 100  # a choice without a place to break


def test_a_long_code_line_or_choice_does_not_widen_the_page(
    server: Server, member: Member, logged_in_page
):  # type: ignore[no-untyped-def]
    key = server.cli("apikey", "create", "--team", "support", "--name", "wide").splitlines()[-1]
    schema = {"fields": [{"name": "tone", "type": "category", "choices": ["label-0", CHOICE]}]}
    body = {"name": "Wide", "kind": "python", "params": {"code": CODE}, "output_schema": schema}
    evaluator = call(server, key, "/evaluators", body)
    page = logged_in_page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/evaluators/{evaluator['id']}/")
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"
