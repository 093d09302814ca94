import time

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalloop.lib import regex

CATASTROPHIC = "(a+)+$"
LONG_MISS = "a" * 50_000 + "b"


def test_a_catastrophic_pattern_runs_in_linear_time():
    started = time.monotonic()
    assert regex.search(CATASTROPHIC, LONG_MISS) is None
    assert time.monotonic() - started < 5  # Python's re would take longer than the universe


def test_a_class_repeated_to_the_limit_compiles_at_once():
    started = time.monotonic()
    regex.check(r"\w{255}[[:alpha:]]{255}\s{255}")
    assert time.monotonic() - started < 5


def test_search_answers_the_match():
    found = regex.search(r"\d{3}-\d{4}", "call 555-0199 now")
    assert found.group() == "555-0199"
    assert found.span() == (5, 13)


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("a.b", "a\nb", True),  # . matches a newline, as on PostgreSQL
        ("a$", "a\n", False),  # $ is the end of the text, not of a line
        ("^b", "a\nb", False),
        ("(?i)refund", "REFUND", True),
        (r"\w+é", "café", True),  # \w takes letters of every script
        ("[[:alpha:]]", "é", True),
        (r"[\w-]+@", "jean-luc@", True),
        (r"^\w+$", "hi😀", False),  # symbols and emoji are not letters
        (r"\s", "\u3000", True),  # Unicode spaces are spaces,
        (r"\s", "\u00a0", False),  # but not the no-break ones
        ("[]x]", "]", True),
        ("a{2,3}?", "aa", True),
        (r"\.\*\?", ".*?", True),
    ],
)
def test_patterns_read_the_way_postgresql_reads_them(pattern, text, matches):
    assert (regex.search(pattern, text) is not None) is matches


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("refund(", "not a valid regular expression: missing )"),
        ("a)", "not a valid regular expression: unexpected )"),
        (r"(a)\1", r"backreferences like \1 are not supported"),
        ("(?=a)", "lookaround like (?=...) is not supported"),
        ("a(?<!b)", "lookaround like (?<!...) is not supported"),
        ("(?P<x>a)", "named groups like (?P<name>...) are not supported"),
        ("(?<x>a)", "named groups like (?P<name>...) are not supported"),
        ("(?>a)", "atomic groups (?>...) are not supported"),
        ("(?#note)a", "comments (?#...) are not supported"),
        ("a(?i)b", "flags are supported only as (?i) at the very start"),
        ("(?i:a)", "flags are supported only as (?i) at the very start"),
        ("(?s)a", "flags are supported only as (?i) at the very start"),
        ("a*+", "possessive quantifiers like a*+ are not supported"),
        ("a**", "a quantifier cannot follow another (*)"),
        ("*a", "nothing to repeat before *"),
        ("^*", "nothing to repeat before *"),
        ("a{256}", "bounds above 255 like {256} are not supported"),
        ("a{3,2}", "the bound {3,2} goes down"),
        ("a{,3}", "a { must start a bound"),
        ("a{2", "a { must start a bound"),
        (r"\bword\b", r"word boundaries like \b are not supported"),
        (r"\yword", r"word boundaries like \y are not supported"),
        (r"end\z", r"\z is not supported (use $ for the end of the text)"),
        (r"\x41", r"the escape \x is not supported"),
        (r"\pL", r"the escape \p is not supported"),
        ("a\\", "a pattern cannot end with a backslash"),
        (r"[\D]", r"\D inside [...] is not supported"),
        ("[[:word:]]", "unknown character class [:word:]"),
        ("[[:upper:]]", "[:upper:] is not supported: beyond ASCII the databases read it"),
        ("[[.a.]]", "collating elements like [.a.] are not supported"),
        (r"[\d-z]", "a range like a-z cannot start or end at a class"),
        ("[abc", "a [ is never closed by ]"),
        ("a\x00", "NUL characters are not allowed"),
        ("\ud800", "the pattern is not valid text"),
    ],
)
def test_a_pattern_outside_the_dialect_is_refused_naming_why(pattern, message):
    with pytest.raises(regex.RegexError) as caught:
        regex.check(pattern)
    assert str(caught.value).startswith(message)


@given(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30))
def test_escape_matches_the_text_literally(text):
    found = regex.search(regex.escape(text), text)
    assert found is not None
    assert found.group() == text


@pytest.mark.django_db
def test_sqlite_regexp_is_the_linear_time_one():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's REGEXP function")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT %s REGEXP %s, 'xa' REGEXP 'a', NULL REGEXP 'a'", [LONG_MISS, CATASTROPHIC]
        )
        assert cursor.fetchone() == (0, 1, None)


# What PostgreSQL must read as `regex` reads it: every piece below, in any order.
PIECES = [
    *"ab.^$|()[]{}*+?-:,\\ é",
    *[r"\w", r"\W", r"\d", r"\s", r"\S", r"\D", r"\.", r"\t", r"\n", r"\]", r"\A"],
    *["(?:", "(?i)", "[^", "[:alpha:]", "[:alnum:]", "[:digit:]", "[:space:]", "[:xdigit:]"],
    *["{2}", "{1,3}", "{0}", "{2,}", "{3,2}"],
]
ALPHABET = "ab \n-é:[](){}*+?.^$|\\_1ÉZ\tµ\u2019—€😀日\u3000\u00a0\v"
TEXTS = st.text(alphabet=list(ALPHABET), max_size=10)


@pytest.mark.postgres
@pytest.mark.django_db
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(st.sampled_from(PIECES), min_size=1, max_size=8),
    texts=st.lists(TEXTS, min_size=1, max_size=5),
)
def test_postgresql_runs_every_accepted_pattern_and_agrees_on_what_it_matches(pieces, texts):
    if connection.vendor != "postgresql":
        pytest.skip("compares with PostgreSQL's regular expressions")
    pattern = "".join(pieces)
    try:
        regex.check(pattern)
    except regex.RegexError:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t ~ %s FROM unnest(%s::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n",
            [pattern, texts],
        )
        postgresql = [row[0] for row in cursor.fetchall()]
    assert postgresql == [regex.search(pattern, text) is not None for text in texts], pattern
