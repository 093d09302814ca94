"""The filter builder of list pages: read the URL's filter and the "add filter" row.

The URL holds the filter in its query-string form, so a filtered list can be bookmarked.
The builder submits GET to the page itself: `add` appends the row's clause, `remove=<n>`
drops clause n; either way the page redirects to the canonical URL. A clause that cannot
be read is shown as an error and the page lists nothing (never everything).

A request with more clauses than a filter may hold, or with a clause longer than any clause
can be, is refused whole before anything is read (the filter is empty and in error): a page
never does work nor echoes text in proportion to what an attacker sends. A chip links to the
page without it only when that URL fits in a web address.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus, urlencode

from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict

from evalloop.filters.compiler import apply_filter
from evalloop.filters.fields import Field
from evalloop.filters.language import (
    FIELDS,
    MAX_CLAUSES,
    PARAM,
    SAFE,
    Clause,
    ClauseProblem,
    Filter,
    Target,
    as_target,
    clause_from_text,
    clause_text,
    clean_value,
    error_text,
)
from evalloop.filters.operators import Operator
from evalloop.filters.values.text import MAX_ITEMS, MAX_TEXT
from evalloop.web.middleware import MAX_URL_LENGTH

if TYPE_CHECKING:
    from evalloop.teams.models import Team

BUILDER_INPUTS = frozenset(
    {"add", "remove", "pick", "field", "op", "value", "value_key", "value_end"}
)
FIRST_FIELD = "tags"  # what the "add filter" row offers first, on either target
# A changed filter starts again from the first page.
PAGING = frozenset({"page", "cursor"})
# No clause a filter can hold is longer: a field and an operator, and a full list of the
# longest texts with every character escaped.
MAX_CLAUSE_TEXT = 200 + MAX_ITEMS * (2 * MAX_TEXT + 1)
# A clause that cannot be read and is longer than this refuses the filter rather than be shown.
MAX_SHOWN = 1000
QUOTED = 60  # characters of a refused clause quoted in its error


@dataclass(frozen=True)
class Draft:
    """The "add filter" row: a field, one of its operators, and what was typed."""

    target: Target
    field: Field
    operator: Operator
    data: QueryDict
    suggestions: list[str] = dataclasses.field(default_factory=list)

    @property
    def fields(self) -> list[Field]:
        return list(FIELDS[self.target].values())

    @property
    def widget(self) -> str:
        return self.operator.value.widget

    @property
    def choices(self) -> tuple[str, ...]:
        value = getattr(self.operator.value, "item", self.operator.value)
        return tuple(getattr(value, "choices", ()))

    @property
    def selected(self) -> list[str]:
        return self.data.getlist("value")

    def input(self, name: str) -> str:
        return str(self.data.get(name, ""))

    @property
    def value(self) -> str:
        return self.input("value")

    @property
    def value_key(self) -> str:
        return self.input("value_key")

    @property
    def value_end(self) -> str:
        return self.input("value_end")

    def clause(self) -> Clause:
        try:
            raw = self.operator.value.from_form(self.data)
        except ValueError as exc:
            raise ClauseProblem(self.field.name, f"{self.operator.name}: {exc}") from None
        value = clean_value(self.field, self.operator, raw)
        return Clause(self.field.name, self.operator.name, value)


def read_draft(query: QueryDict, target: Target) -> Draft:
    """Answer the row the builder shows; an unknown field or operator falls back to a default."""
    fields = FIELDS[target]
    chosen = fields.get(str(query.get("field", ""))) or fields[FIRST_FIELD]
    operator = chosen.operator(query.get("op")) or chosen.operators[0]
    return Draft(target, chosen, operator, query)


@dataclass(frozen=True)
class Chip:
    """One clause of the URL: its English reading (or its error) and a link without it."""

    text: str
    description: str
    error: str | None
    remove_url: str


@dataclass(frozen=True)
class FilterState:
    filter: Filter
    errors: list[str] = dataclasses.field(default_factory=list)
    redirect_to: str | None = None
    chips: list[Chip] = dataclasses.field(default_factory=list)
    draft: Draft | None = None
    kept: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # the page's other params

    @property
    def target(self) -> Target:
        return self.filter.target

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def querystring(self) -> str:
        """The filter's part of the URL, for the page's own links (pagination...)."""
        return self.filter.to_querystring()

    def apply(self, queryset: QuerySet[Any], *, team: Team) -> QuerySet[Any]:
        """Filter `queryset`, or answer none of it when the filter has errors."""
        if self.errors:
            return queryset.none()
        return apply_filter(queryset, self.filter, team=team)


def read_filter_request(
    request: HttpRequest, *, target: Target | str, query: QueryDict | None = None
) -> FilterState:
    """Read the filter of a list page's URL and what its builder asked for.

    `query` stands for the URL's query string when the filter comes from elsewhere (a form's
    body, a saved filter); the builder's links still lead to the page's path.
    """
    target = as_target(target)
    query = request.GET if query is None else query
    kept = kept_params(query)
    draft = read_draft(query, target)
    texts = query.getlist(PARAM)
    if refused := refusal(texts):
        return refused_state(target, refused, draft, kept)
    texts, errors = canonical_texts(target, texts)
    if refused := long_error(texts, errors):
        return refused_state(target, refused, draft, kept)
    redirect_to, draft_error = requested_url(request.path, target, texts, kept, draft)
    return FilterState(
        filter=Filter(target, tuple(clauses_of(target, texts))),
        errors=[error for _, error in errors] + ([draft_error] if draft_error else []),
        redirect_to=redirect_to,
        chips=chips(request.path, target, texts, kept),
        draft=draft,
        kept=kept,
    )


def refused_state(
    target: Target, error: str, draft: Draft, kept: list[tuple[str, str]]
) -> FilterState:
    return FilterState(filter=Filter(target, ()), errors=[error], draft=draft, kept=kept)


def shortened(text: str) -> str:
    return text if len(text) <= QUOTED else f"{text[:QUOTED]}…"


def quoted(text: str) -> str:
    return f"“{shortened(text)}” ({len(text):,} characters)"


def refusal(texts: list[str]) -> str | None:
    """Why the `f=` values are refused unread: too many, or one too long for any clause."""
    if len(texts) > MAX_CLAUSES:
        return (
            f"a filter has at most {MAX_CLAUSES} clauses; this one has {len(texts):,}, so none "
            "was read"
        )
    for index, text in enumerate(texts):
        if len(text) > MAX_CLAUSE_TEXT:
            return (
                f"clause {index + 1}: {quoted(text)} is longer than any clause can be (at most "
                f"{MAX_CLAUSE_TEXT:,} characters), so the filter was not read"
            )
    return None


def long_error(texts: list[str], errors: list[tuple[int, str]]) -> str | None:
    """A clause that cannot be read and is too long to show back refuses the filter."""
    for index, error in errors:
        if len(texts[index]) > MAX_SHOWN:
            return f"{error} — {quoted(texts[index])}; the filter was not read"
    return None


def canonical_texts(target: Target, texts: list[str]) -> tuple[list[str], list[tuple[int, str]]]:
    """Answer each `f=` value rewritten canonically (unreadable ones kept), and the errors
    with their clause's index."""
    canonical, errors = [], []
    for index, text in enumerate(texts):
        try:
            canonical.append(clause_text(target, clause_from_text(target, text)))
        except ClauseProblem as problem:
            canonical.append(text)
            field = problem.field and shortened(problem.field)
            error = {"index": index, "field": field, "message": str(problem)}
            errors.append((index, error_text(error)))
    return canonical, errors


def clauses_of(target: Target, texts: list[str]) -> list[Clause]:
    clauses = []
    for text in texts:
        try:
            clauses.append(clause_from_text(target, text))
        except ClauseProblem:
            continue  # reported by canonical_texts
    return clauses


def requested_url(
    path: str, target: Target, texts: list[str], kept: list[tuple[str, str]], draft: Draft
) -> tuple[str | None, str | None]:
    """Answer where an add or remove request should go, or the new clause's error."""
    query = draft.data
    if "remove" in query:
        index = str(query["remove"])
        return page_url(path, [t for i, t in enumerate(texts) if str(i) != index], kept), None
    if "add" not in query:
        return None, None
    if len(texts) >= MAX_CLAUSES:
        return None, (
            f"new filter ({draft.field.name}): a filter has at most {MAX_CLAUSES} clauses; "
            "remove one first"
        )
    try:
        added = clause_text(target, draft.clause())
    except ClauseProblem as problem:
        return None, f"new filter ({problem.field}): {problem}"
    url = page_url(path, [*texts, added], kept)
    if len(url) > MAX_URL_LENGTH:
        return None, (
            f"new filter ({draft.field.name}): with it the filter is too long for a web address "
            f"({len(url)} characters, at most {MAX_URL_LENGTH}); remove a clause or shorten a "
            "list of values"
        )
    return url, None


def chips(path: str, target: Target, texts: list[str], kept: list[tuple[str, str]]) -> list[Chip]:
    full = len(page_url(path, texts, kept))
    answer = []
    for index, text in enumerate(texts):
        try:
            clause = clause_from_text(target, text)
        except ClauseProblem as problem:
            url = remove_url(path, texts, index, kept, full)
            answer.append(Chip(text, shortened(text), str(problem), url))
            continue
        description = Filter(target, (clause,)).describe()[0]
        answer.append(Chip(text, description, None, remove_url(path, texts, index, kept, full)))
    return answer


def remove_url(
    path: str, texts: list[str], index: int, kept: list[tuple[str, str]], full: int
) -> str:
    """The page without clause `index`; none when that cannot be a web address (so the
    chips of a long filter cost no more than the filter)."""
    shorter_by = len(urlencode([(PARAM, texts[index])], safe=SAFE, quote_via=quote_plus)) + 1
    if full - shorter_by > MAX_URL_LENGTH:
        return ""
    return page_url(path, texts[:index] + texts[index + 1 :], kept)


def kept_params(query: QueryDict) -> list[tuple[str, str]]:
    dropped = BUILDER_INPUTS | PAGING | {PARAM}
    return [(key, value) for key, values in query.lists() if key not in dropped for value in values]


def page_url(path: str, texts: list[str], kept: list[tuple[str, str]]) -> str:
    params = [*kept, *((PARAM, text) for text in texts)]
    query = urlencode(params, safe=SAFE, quote_via=quote_plus)
    return f"{path}?{query}" if query else path
