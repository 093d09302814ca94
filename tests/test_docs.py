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
