"""Logging in and out, creating a team, switching teams."""

from django.urls import reverse

from evalloop.teams import services
from evalloop.teams.middleware import SESSION_KEY
from evalloop.teams.models import Membership, Team
from evalloop.teams.permissions import Role
from evalloop.teams.tests.factories import PASSWORD, UserFactory


def test_the_login_page_asks_for_an_email(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert 'type="email"' in response.content.decode()


def test_a_member_logs_in_by_email(client, cast):
    response = client.post(reverse("login"), {"username": "owner@a.example", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert client.get(reverse("home")).status_code == 200


def test_the_email_is_not_case_sensitive(client, cast):
    response = client.post(reverse("login"), {"username": "Owner@A.example", "password": PASSWORD})
    assert response.status_code == 302


def test_a_wrong_password_is_refused_with_a_message(client, cast):
    response = client.post(reverse("login"), {"username": "owner@a.example", "password": "nope"})
    assert response.status_code == 200
    assert "do not match an account" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_pages_send_anonymous_visitors_to_login(client, db):
    for name in ("home", "settings", "settings-members", "team-create", "notifications:inbox"):
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert response.url.startswith(reverse("login")), name


def test_logout_ends_the_session(cast, login):
    client = login(cast.viewer)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response.url == reverse("login")
    assert client.get(reverse("home")).status_code == 302


def test_a_user_without_a_team_is_sent_to_create_one(login, db):
    client = login(UserFactory())
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url == reverse("team-create")
    assert "Create your first team" in client.get(response.url).content.decode()


def test_creating_a_team_makes_the_user_its_owner_and_switches_to_it(login, db):
    user = UserFactory()
    client = login(user)
    response = client.post(reverse("team-create"), {"name": "Support Bots", "slug": ""})
    assert response.status_code == 302
    team = Team.objects.get(slug="support-bots")
    assert Membership.objects.get(team=team, user=user).role == Role.OWNER
    assert client.session[SESSION_KEY] == team.pk


def test_a_taken_slug_is_a_form_error(cast, login):
    client = login(cast.viewer)
    response = client.post(reverse("team-create"), {"name": "Again", "slug": "team-b"})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Team.objects.count() == 2


def test_a_member_of_a_team_sees_the_plain_create_heading(cast, login):
    response = login(cast.viewer).get(reverse("team-create"))
    assert "Create a team" in response.content.decode()


def test_the_switcher_lists_only_the_users_teams(cast, login):
    services.add_member(team=cast.other_team, email=cast.viewer.email, role=Role.VIEWER)
    services.create_team(slug="team-c", name="Team C", owner=cast.outsider)
    html = login(cast.viewer).get(reverse("home")).content.decode()
    assert 'id="team-switch"' in html
    assert 'value="team-b"' in html
    assert 'value="team-c"' not in html


def test_a_member_of_one_team_gets_no_switcher(cast, login):
    assert 'id="team-switch"' not in login(cast.viewer).get(reverse("home")).content.decode()


def test_switching_teams_changes_the_current_team(cast, login):
    services.add_member(team=cast.other_team, email=cast.viewer.email, role=Role.EDITOR)
    client = login(cast.viewer)
    response = client.post(reverse("team-switch"), {"team": "team-b"})
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == cast.other_team.pk
    assert "<h1>Team B</h1>" in client.get(reverse("home")).content.decode()


def test_switching_to_a_team_one_is_not_in_is_404(cast, login):
    client = login(cast.outsider)
    assert client.post(reverse("team-switch"), {"team": "team-a"}).status_code == 404
    assert client.post(reverse("team-switch"), {"team": "no-such-team"}).status_code == 404
    assert client.session.get(SESSION_KEY) != cast.team.pk


def test_switching_needs_a_post(cast, login):
    assert login(cast.viewer).get(reverse("team-switch")).status_code == 405


def test_a_stale_team_in_the_session_falls_back_to_a_team_of_the_user(cast, login):
    client = login(cast.outsider)
    session = client.session
    session[SESSION_KEY] = cast.team.pk
    session.save()
    assert "<h1>Team B</h1>" in client.get(reverse("home")).content.decode()
