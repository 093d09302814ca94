"""The documentation stays navigable: every page is in the index, every local link resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
PAGES = sorted([ROOT / "README.md", *DOCS.glob("*.md")])


def _local_links(page: Path) -> list[str]:
    return [target for target in LINK.findall(page.read_text()) if "://" not in target]


def test_the_index_lists_every_page():
    linked = {(DOCS / target).resolve() for target in _local_links(DOCS / "index.md")}
    unlisted = {p.name for p in DOCS.glob("*.md") if p.name != "index.md"} - {
        p.name for p in linked
    }
    assert unlisted == set(), "add these pages to docs/index.md"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_local_link_resolves(page):
    missing = [t for t in _local_links(page) if not (page.parent / t).resolve().exists()]
    assert missing == [], f"{page.name} links to missing files"


ANCHORED = re.compile(r"\]\(([^)#\s]*)#([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the page's headings."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_link_to_a_section_names_a_heading(page):
    wrong = [
        f"{target}#{anchor}"
        for target, anchor in ANCHORED.findall(page.read_text())
        if "://" not in target
        and (page.parent / (target or page.name)).exists()
        and anchor not in _anchors(page.parent / (target or page.name))
    ]
    assert wrong == [], f"{page.name} links to sections that do not exist"


def test_the_readme_says_what_it_is_the_two_commands_and_where_to_go():
    readme = (ROOT / "README.md").read_text()
    assert "uv run evalloop demo" in readme
    assert "uv run pytest" in readme
    assert "## A look" in readme  # the place of the screenshots
    for page in ("getting-started.md", "concepts.md", "deployment.md", "api.md"):
        assert f"(docs/{page})" in readme
