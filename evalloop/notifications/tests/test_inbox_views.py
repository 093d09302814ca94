"""The inbox: one's own notifications in the current team; mark one or all read."""

import pytest
from django.urls import reverse
from django.utils import timezone

from evalloop.notifications.models import Kind, Notification
from evalloop.notifications.services import notify
from evalloop.teams.permissions import Action

INBOX = reverse("notifications:inbox")
READ_ALL = reverse("notifications:mark-all-read")


def read_url(notification):
    return reverse("notifications:mark-read", args=[notification.pk])


def send(team, title="Run failed", action=Action.VIEW, **fields):
    return notify(team=team, action=action, kind=Kind.RUN_FAILED, title=title, **fields)


def mine(notifications, user):
    return next(n for n in notifications if n.recipient == user)


def test_the_inbox_lists_the_users_notifications_newest_first(cast, login):
    send(cast.team, "older")
    send(cast.team, "newer")
    html = login(cast.viewer).get(INBOX).content.decode()
    assert html.index("newer") < html.index("older")


def test_unread_ones_are_highlighted(cast, login):
    read = mine(send(cast.team, "seen"), cast.viewer)
    Notification.objects.filter(pk=read.pk).update(read_at=timezone.now())
    unread = mine(send(cast.team, "fresh"), cast.viewer)
    html = login(cast.viewer).get(INBOX).content.decode()
    assert f'id="notification-{unread.pk}" class="unread"' in html
    assert f'id="notification-{read.pk}" class="read"' in html


def test_it_shows_neither_other_members_nor_other_teams_notifications(cast, login):
    send(cast.team, "for editors", action=Action.EDIT)
    send(cast.other_team, "for team b")
    html = login(cast.viewer).get(INBOX).content.decode()
    assert "for editors" not in html
    assert "for team b" not in html
    assert "Nothing here yet" in html


def test_user_content_is_escaped(cast, login):
    send(cast.team, "<script>alert(1)</script>", body="<b>bold</b>", url="javascript:alert(1)")
    html = login(cast.viewer).get(INBOX).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert 'href="javascript:' not in html


def test_the_inbox_costs_the_same_queries_for_any_number(cast, login, django_assert_num_queries):
    for number in range(30):
        send(cast.team, f"n{number}")
    client = login(cast.viewer)
    # session, user, membership, unread count, the user's teams; then page count and rows
    with django_assert_num_queries(7):
        assert client.get(INBOX).status_code == 200


def test_the_inbox_pages_through_many(cast, login):
    for number in range(55):
        send(cast.team, f"note-{number:02d}")
    client = login(cast.viewer)
    first = client.get(INBOX).content.decode()
    assert "note-54" in first
    assert "note-04" not in first
    assert "note-04" in client.get(INBOX, {"page": 2}).content.decode()


def test_the_navigation_shows_the_unread_count(cast, login):
    send(cast.team)
    send(cast.team)
    html = login(cast.viewer).get(reverse("home")).content.decode()
    assert '<span class="badge" data-testid="unread-count">2</span>' in html


def test_no_badge_without_unread_notifications(cast, login):
    assert 'data-testid="unread-count"' not in login(cast.viewer).get(INBOX).content.decode()


def test_marking_one_read(cast, login):
    notification = mine(send(cast.team), cast.viewer)
    response = login(cast.viewer).post(read_url(notification))
    assert response.status_code == 302
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_htmx_gets_the_row_and_the_new_count(cast, login):
    notification = mine(send(cast.team), cast.viewer)
    send(cast.team)
    response = login(cast.viewer).post(read_url(notification), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.strip().startswith(f'<tr id="notification-{notification.pk}" class="read"')
    assert 'id="unread-badge" hx-swap-oob="true"' in html
    assert 'data-testid="unread-count">1<' in html
    assert "<html" not in html


def test_marking_all_read_marks_only_the_users_own_in_this_team(cast, login):
    send(cast.team)
    send(cast.other_team)
    response = login(cast.owner).post(READ_ALL, follow=True)
    assert "Marked 1 notification read" in response.content.decode()
    assert Notification.objects.unread().for_user(cast.owner).count() == 0
    assert Notification.objects.unread().count() == 4  # the other members' and team B's


def test_a_viewer_may_mark_their_own_read_but_not_anothers(cast, login):
    notifications = send(cast.team)
    client = login(cast.viewer)
    assert client.post(read_url(mine(notifications, cast.viewer))).status_code == 302
    assert client.post(read_url(mine(notifications, cast.editor))).status_code == 404
    assert Notification.objects.get(recipient=cast.editor).read_at is None


def test_the_outsider_gets_404_for_team_a_notifications(cast, login):
    notification = mine(send(cast.team), cast.owner)
    assert login(cast.outsider).post(read_url(notification)).status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_a_notification_of_another_of_ones_teams_is_404_in_this_one(cast, login):
    from evalloop.teams.services import add_member

    add_member(team=cast.other_team, email=cast.viewer.email, role="viewer")
    theirs = mine(send(cast.other_team), cast.viewer)
    assert login(cast.viewer).post(read_url(theirs)).status_code == 404


@pytest.mark.parametrize("url", [INBOX + "1/read/", READ_ALL])
def test_marking_needs_a_post(cast, login, url):
    assert login(cast.viewer).get(url).status_code == 405
