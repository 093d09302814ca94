"""docs/filters.md holds the filter reference exactly as the field and operator tables write it."""

from __future__ import annotations

import pytest

from evalloop.filters import reference
from evalloop.filters.fields import MESSAGE_FIELDS, SESSION_FIELDS


def test_the_page_holds_the_reference_the_tables_write():
    page = reference.PAGE.read_text()
    assert reference.documented(page) == reference.reference(), (
        f"docs/filters.md is stale: run `{reference.COMMAND}`"
    )


def test_the_reference_names_every_field_operator_and_value_type():
    text = reference.reference()
    for field in (*SESSION_FIELDS, *MESSAGE_FIELDS):
        assert f"`{field.name}`" in text
        for operator in field.operators:
            assert f"| `{operator.name}` | " in text
            assert f"| {operator.value.name} | " in text


def test_rewriting_replaces_only_the_text_between_the_markers():
    page = f"# Filters\n\nBefore.\n\n{reference.START}\nold tables\n{reference.END}\n\nAfter.\n"
    rewritten = reference.rewritten(page)
    assert rewritten.startswith("# Filters\n\nBefore.\n\n")
    assert rewritten.endswith(f"{reference.END}\n\nAfter.\n")
    assert reference.documented(rewritten) == reference.reference()


def test_the_check_fails_on_a_stale_page_and_names_the_command(tmp_path, monkeypatch, capsys):
    page = tmp_path / "filters.md"
    page.write_text(f"{reference.START}\n| `gone` | `eq` | A field no more. |\n{reference.END}\n")
    monkeypatch.setattr(reference, "PAGE", page)
    assert reference.main(["--check"]) == 1
    assert reference.COMMAND in capsys.readouterr().out
    assert reference.main([]) == 0
    assert reference.main(["--check"]) == 0
    assert "`gone`" not in page.read_text()


@pytest.mark.parametrize("reading", ["tags any of vip", "state “plan” is “pro”", "ended is yes"])
def test_each_operator_reads_in_english_as_the_builder_shows_it(reading):
    assert f"| {reading} |" in reference.reference()
