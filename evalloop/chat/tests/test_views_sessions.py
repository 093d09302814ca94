"""The sessions list of a chatbot: newest first, filtered by the builder, paged."""

import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models.expressions import RawSQL
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from evalloop.chat import services, views
from evalloop.chat.models import Session
from evalloop.chat.tests.factories import ChatbotFactory, SessionFactory
from evalloop.filters import parse_filter

T0 = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
def chatbot(cast):
    return ChatbotFactory(team=cast.team, slug="support", name="Support")


@pytest.fixture
def url(chatbot):
    return reverse("chat:session-list", kwargs={"slug": chatbot.slug})


def sessions_at(chatbot, count):
    return [
        SessionFactory(chatbot=chatbot, external_id=f"s-{n}", created_at=T0 + timedelta(hours=n))
        for n in range(count)
    ]


def shown(response):
    return [s.external_id for s in response.context["sessions"]]


def test_it_lists_sessions_newest_first(cast, login, chatbot, url):
    sessions_at(chatbot, 3)
    response = login(cast.viewer).get(url)
    assert response.status_code == 200
    assert shown(response) == ["s-2", "s-1", "s-0"]


def test_a_row_shows_count_tags_participant_and_end(cast, login, chatbot, url):
    [session] = sessions_at(chatbot, 1)
    services.change_session_tags(session=session, add=["vip"])
    services.end_session(session=session)
    content = login(cast.viewer).get(url).content.decode()
    assert session.participant in content
    assert '<span class="pill tag-chip" title="vip">vip</span>' in content
    assert "ended" in content


def test_a_long_tag_is_cut_short_on_screen_with_its_full_name_in_the_title(
    cast, login, chatbot, url
):
    [session] = sessions_at(chatbot, 1)
    long = "escalated-to-the-second-line-because-" + "x" * 60
    services.change_session_tags(session=session, add=[long])
    content = login(cast.viewer).get(url).content.decode()
    assert f'<span class="pill tag-chip" title="{long}">{long}</span>' in content


def test_the_filter_in_the_url_narrows_the_list(cast, login, chatbot, url):
    tagged, _ = sessions_at(chatbot, 2)
    services.change_session_tags(session=tagged, add=["vip"])
    flt = parse_filter([{"field": "tags", "op": "any_of", "value": ["vip"]}], target="session")
    response = login(cast.viewer).get(f"{url}?{flt.to_querystring()}")
    assert shown(response) == ["s-0"]
    assert "filters/builder.html" in [t.name for t in response.templates]


def test_a_bad_filter_shows_its_error_and_lists_nothing(cast, login, chatbot, url):
    sessions_at(chatbot, 2)
    response = login(cast.viewer).get(f"{url}?f=nosuchfield:eq:x")
    assert response.status_code == 200
    assert shown(response) == []
    assert response.context["filter_state"].errors


def test_adding_a_clause_redirects_to_the_bookmarkable_url(cast, login, chatbot, url):
    query = {"add": "1", "field": "channel", "op": "eq", "value": "web"}
    response = login(cast.viewer).get(url, query)
    assert response.status_code == 302
    assert response["Location"].startswith(url + "?f=")


def test_pages_follow_each_other_and_keep_the_filter(cast, login, chatbot, url, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    sessions_at(chatbot, 5)
    client = login(cast.viewer)
    first = client.get(url, {"f": "channel:eq:web"})
    assert shown(first) == ["s-4", "s-3"]
    cursor = first.context["next_cursor"]
    second = client.get(url, {"f": "channel:eq:web", "cursor": cursor})
    assert shown(second) == ["s-2", "s-1"]
    assert f"cursor={cursor}" in first.content.decode()


def test_a_bad_cursor_is_a_404(cast, login, url):
    assert login(cast.viewer).get(url, {"cursor": "!!"}).status_code == 404


def test_htmx_gets_only_the_results(cast, login, chatbot, url):
    sessions_at(chatbot, 1)
    response = login(cast.viewer).get(url, HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert 'id="session-results"' in content
    assert "<html" not in content
    assert "filter-builder" not in content


def test_the_full_page_has_the_layout_and_the_builder(cast, login, chatbot, url):
    content = login(cast.viewer).get(url).content.decode()
    assert "<html" in content
    assert "filter-builder" in content


def test_editors_get_checkboxes_and_the_dataset_form_slot(cast, login, chatbot, url):
    [session] = sessions_at(chatbot, 1)
    checkbox = f'name="session" value="{session.pk}" form="add-to-dataset"'
    slot = reverse("datasets:add-sessions") + "?chatbot=support&"
    editor_page = login(cast.editor).get(url).content.decode()
    viewer_page = login(cast.viewer).get(url).content.decode()
    assert checkbox in editor_page
    assert slot in editor_page
    assert checkbox not in viewer_page
    assert slot not in viewer_page


def test_an_outsider_gets_a_404(cast, login, url):
    assert login(cast.outsider).get(url).status_code == 404


def test_another_teams_sessions_never_show(cast, login, chatbot, url):
    theirs = ChatbotFactory(team=cast.other_team, slug="support")
    SessionFactory(chatbot=theirs, external_id="theirs")
    sessions_at(chatbot, 1)
    assert shown(login(cast.viewer).get(url)) == ["s-0"]


def count_shown(response):
    return response.context["matching"]


def shown_count(response):
    found = re.search(r'data-testid="session-count">([^<]*)<', response.content.decode())
    return found and found.group(1)


def test_it_says_how_many_sessions_there_are(cast, login, chatbot, url):
    sessions_at(chatbot, 3)
    response = login(cast.viewer).get(url)
    assert count_shown(response) == "3 sessions"
    assert '<p class="muted result-count" data-testid="session-count">3 sessions</p>' in (
        response.content.decode()
    )


def test_it_says_how_many_sessions_match_the_filter_on_every_page(
    cast, login, chatbot, url, monkeypatch
):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for session in sessions_at(chatbot, 4)[1:]:
        services.change_session_tags(session=session, add=["vip"])
    client = login(cast.viewer)
    first = client.get(url, {"f": "tags:any_of:vip"})
    assert count_shown(first) == "3 sessions match this filter"
    cursor = first.context["next_cursor"]
    second = client.get(url, {"f": "tags:any_of:vip", "cursor": cursor}, HTTP_HX_REQUEST="true")
    assert shown_count(second) == "3 sessions match this filter"
    services.change_session_tags(session=Session.objects.get(external_id="s-3"), add=["rare"])
    one = client.get(url, {"f": "tags:any_of:rare"})
    assert count_shown(one) == "1 session matches this filter"


def test_the_count_stops_at_its_cap(cast, login, chatbot, url, monkeypatch):
    monkeypatch.setattr(views, "COUNT_CAP", 2)
    sessions_at(chatbot, 3)
    assert count_shown(login(cast.viewer).get(url)) == "2+ sessions"
    monkeypatch.setattr(views, "COUNT_CAP", 3)
    assert count_shown(login(cast.viewer).get(url)) == "3 sessions"


def test_a_count_past_its_time_limit_says_nothing(chatbot, settings):
    settings.EVALLOOP_FILTER_TIMEOUT_SECONDS = 1
    endless = (
        "SELECT i FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
        "WHERE i < 100000000000) SELECT max(i) AS i FROM n) AS counted"
    )
    sessions_at(chatbot, 1)
    sessions = Session.objects.filter(chatbot=chatbot, pk__in=RawSQL(endless, []))
    started = time.monotonic()
    assert views.count_text(sessions, filtered=True) == ""
    assert time.monotonic() - started < 10


def test_no_count_shows_when_nothing_is_listed(cast, login, chatbot, url):
    response = login(cast.viewer).get(url)
    assert count_shown(response) == ""
    assert "result-count" not in response.content.decode()


def test_editors_get_a_select_all_box_that_ships_hidden(cast, login, chatbot, url):
    sessions_at(chatbot, 2)
    select_all = (
        '<input type="checkbox" data-select-all="session" '
        'aria-label="Select every session on this page" hidden>'
    )
    assert select_all in login(cast.editor).get(url).content.decode()
    assert "data-select-all" not in login(cast.viewer).get(url).content.decode()


def test_the_list_query_count_does_not_grow_with_rows(
    cast, login, chatbot, url, django_assert_num_queries
):
    client = login(cast.editor)
    for session in sessions_at(chatbot, 2):
        services.change_session_tags(session=session, add=["a"])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(20):
        session = SessionFactory(chatbot=chatbot, external_id=f"more-{n}")
        services.change_session_tags(session=session, add=["a", f"t-{n}"])
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(url)


def test_the_chatbot_address_keeps_the_filter_on_its_way_to_the_list(cast, login, chatbot, url):
    response = login(cast.viewer).get(f"/chatbots/{chatbot.slug}/", {"f": "ended:eq:true"})
    assert response.status_code == 302
    assert response["Location"] == f"{url}?f=ended%3Aeq%3Atrue"
