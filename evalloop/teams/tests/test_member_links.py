"""Adding a member by e-mail address, and the one-time link with which they set a password."""

import re
import socket
import time

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from evalloop.teams import links, services
from evalloop.teams.models import Membership, User
from evalloop.teams.permissions import Role

MEMBERS = reverse("settings-members")
GOOD_PASSWORD = "a long and unusual pass phrase"


def link_url(membership):
    return reverse("settings-member-link", args=[membership.pk])


def shown_link(response):
    """The path of the set-password link on a page, as the new member would open it."""
    found = re.search(r'id="password-link">https?://[^/]+(/set-password/[^<]+/)<', response.text)
    assert found, response.text
    return found.group(1)


def add(client, email="new@example.com", role=Role.EDITOR):
    return client.post(MEMBERS, {"email": email, "role": role})


@pytest.fixture
def added(cast, login):
    """An admin added new@example.com, who has no account yet: answer the link shown."""
    response = add(login(cast.admin))
    assert response.status_code == 200
    return shown_link(response)


def newcomer():
    return User.objects.get(email="new@example.com")


def test_an_admin_adds_a_new_address_and_is_shown_a_link_once(cast, login):
    response = add(login(cast.admin), email="New@Example.com")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "new@example.com joined as editor" in response.text
    assert "works once, until" in response.text
    assert shown_link(response).startswith("/set-password/")
    user = newcomer()
    assert not user.has_usable_password()
    assert Membership.objects.get(team=cast.team, user=user).role == Role.EDITOR
    assert mail.outbox == []  # no mail server set: nothing is sent


def test_an_existing_user_is_added_without_a_link(cast, login):
    response = add(login(cast.admin), email=cast.outsider.email)
    assert response.status_code == 302
    assert Membership.objects.get(team=cast.team, user=cast.outsider).role == Role.EDITOR


def test_an_existing_member_is_an_error_beside_the_email(cast, login):
    response = add(login(cast.admin), email=cast.viewer.email.upper())
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "email": ["viewer@a.example is already a member of this team."]
    }


LONG_DOMAIN = "b" * 63 + "." + "c" * 63 + "." + "d" * 50 + ".com"


@pytest.mark.parametrize(
    ("email", "message"),
    [
        # 247 characters as typed, 311 in lower case: more than the column holds.
        ("İ" * 64 + "@" + LONG_DOMAIN, "This address is too long: 311 characters in lower case"),
        ("İİ@example.com", "This address is not valid in lower case"),
    ],
)
def test_an_address_that_lower_case_breaks_is_an_error_beside_the_email(
    cast, login, email, message
):
    response = add(login(cast.admin), email=email)
    assert response.status_code == 200
    [error] = response.context["form"].errors["email"]
    assert error.startswith(message)
    assert User.objects.count() == 5


def test_an_admin_cannot_add_a_new_address_as_owner(cast, login):
    response = add(login(cast.admin), role=Role.OWNER)
    assert response.status_code == 200
    assert "role" in response.context["form"].errors
    assert not User.objects.filter(email="new@example.com").exists()


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_cannot_add_by_address_or_make_links(cast, login, role, added):
    client = login(getattr(cast, role))
    assert add(client, email="other@example.com").status_code == 403
    assert not User.objects.filter(email="other@example.com").exists()
    target = Membership.objects.get(user=newcomer())
    assert client.post(link_url(target)).status_code == 403


def test_the_link_opens_a_form_and_a_good_password_logs_the_member_in(cast, added):
    client = Client()
    page = client.get(added)
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert "new@example.com" in page.text
    response = client.post(added, {"new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD})
    assert response.url == reverse("home")
    assert newcomer().check_password(GOOD_PASSWORD)
    assert client.session["_auth_user_id"] == str(newcomer().pk)
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert home.context["request"].team == cast.team


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        ("password", "password", "This password is too common."),
        ("12345678901", "12345678901", "This password is entirely numeric."),
        ("short", "short", "This password is too short."),
        (GOOD_PASSWORD, GOOD_PASSWORD + "!", "The two password fields didn"),
        ("", "", "This field is required."),
    ],
)
def test_a_bad_password_is_a_form_error_and_the_link_still_works(added, first, second, message):
    client = Client()
    response = client.post(added, {"new_password1": first, "new_password2": second})
    assert response.status_code == 200
    assert message in response.text
    assert not newcomer().has_usable_password()
    assert "_auth_user_id" not in client.session
    assert client.get(added).status_code == 200


def test_a_used_link_is_a_clear_page(added):
    body = {"new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD}
    Client().post(added, body)
    for again in (Client().get(added), Client().post(added, body)):
        assert again.status_code == 400
        assert "This link has been used already" in again.text
    assert newcomer().check_password(GOOD_PASSWORD)


def test_an_expired_link_is_a_clear_page(cast, monkeypatch):
    membership = services.add_member(team=cast.team, email="new@example.com", role="viewer")
    made_at = time.time() - links.MAX_AGE.total_seconds() - 60
    with monkeypatch.context() as past:
        past.setattr(time, "time", lambda: made_at)
        token = services.make_password_link(membership=membership)
    response = Client().get(reverse("set-password", args=[token]))
    assert response.status_code == 400
    assert "This link has expired: links to set a password work for 3 days." in response.text
    body = {"new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD}
    assert Client().post(reverse("set-password", args=[token]), body).status_code == 400
    assert not newcomer().has_usable_password()


@pytest.mark.parametrize(
    "garble",
    [
        lambda token: token[:-4],
        lambda token: token.replace(":", ":x", 1),
        lambda token: "nonsense",
        lambda token: "é" * 300,
        lambda token: token + "%00",
    ],
)
def test_a_garbled_link_is_a_clear_page(added, garble):
    token = added.removeprefix("/set-password/").removesuffix("/")
    response = Client().get(reverse("set-password", args=[garble(token)]))
    assert response.status_code == 400
    assert "This link is not a valid set-password link" in response.text


def test_a_link_made_for_another_purpose_is_refused(cast):
    from django.core import signing

    token = signing.dumps({"user": cast.viewer.pk, "password": "x"})
    response = Client().get(reverse("set-password", args=[token]))
    assert response.status_code == 400
    assert "not a valid set-password link" in response.text


def test_the_list_marks_members_without_a_password_and_offers_admins_a_new_link(cast, login, added):
    target = Membership.objects.get(user=newcomer())
    admin_page = login(cast.admin).get(MEMBERS).text
    assert "no password yet" in admin_page
    assert link_url(target) in admin_page
    viewer_page = login(cast.viewer).get(MEMBERS).text
    assert "no password yet" in viewer_page
    assert link_url(target) not in viewer_page


def test_a_new_link_works_and_the_one_before_no_longer_does(cast, login, added):
    target = Membership.objects.get(user=newcomer())
    response = login(cast.admin).post(link_url(target))
    assert response.status_code == 200
    assert "A new set-password link for new@example.com" in response.text
    fresh = shown_link(response)
    assert fresh != added
    assert Client().get(added).status_code == 400
    assert Client().get(fresh).status_code == 200


def test_no_new_link_for_a_member_who_has_a_password(cast, login):
    target = Membership.objects.get(team=cast.team, user=cast.viewer)
    response = login(cast.admin).post(link_url(target), follow=True)
    assert "has set a password already" in response.text
    assert 'id="password-link"' not in response.text
    assert cast.viewer.password == User.objects.get(pk=cast.viewer.pk).password


def test_no_new_link_for_a_member_another_team_relies_on(cast, login, added):
    services.add_member(team=cast.other_team, email="new@example.com", role=Role.VIEWER)
    target = Membership.objects.get(team=cast.team, user=newcomer())
    response = login(cast.admin).post(link_url(target), follow=True)
    assert "belongs to another team" in response.text


def test_a_link_stops_working_once_another_team_relies_on_the_account(cast, added):
    # Team A's admins hold the link: with it they could take over a member of team B.
    services.add_member(team=cast.other_team, email="new@example.com", role=Role.VIEWER)
    body = {"new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD}
    for response in (Client().get(added), Client().post(added, body)):
        assert response.status_code == 400
        assert "the account now belongs to another team too" in response.text
    assert not newcomer().has_usable_password()


def test_a_link_stops_working_once_the_member_is_removed(cast, added):
    services.remove_member(membership=Membership.objects.get(user=newcomer()))
    services.add_member(team=cast.other_team, email="new@example.com", role=Role.VIEWER)
    body = {"new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD}
    response = Client().post(added, body)
    assert response.status_code == 400
    assert "no longer a member of the team whose admin made it" in response.text
    assert not newcomer().has_usable_password()


def test_an_admin_cannot_make_a_link_for_an_owner(cast, login):
    owner = services.add_member(team=cast.team, email="boss@example.com", role=Role.OWNER)
    assert login(cast.admin).post(link_url(owner)).status_code == 403
    assert login(cast.owner).post(link_url(owner)).status_code == 200


def test_the_outsider_gets_404_for_a_link_of_team_a(cast, login, added):
    target = Membership.objects.get(user=newcomer())
    assert login(cast.outsider).post(link_url(target)).status_code == 404
    assert Client().get(added).status_code == 200  # untouched


def test_a_link_is_only_made_by_post(cast, login, added):
    target = Membership.objects.get(user=newcomer())
    assert login(cast.admin).get(link_url(target)).status_code == 405


def test_with_a_mail_server_the_link_is_also_emailed(cast, login, settings):
    settings.EMAIL_HOST = "smtp.example.com"
    response = add(login(cast.admin))
    assert "It was also e-mailed to new@example.com." in response.text
    [sent] = mail.outbox
    assert sent.to == ["new@example.com"]
    assert sent.subject == "Set your evalloop password for Team A"
    assert "http://testserver" + shown_link(response) in sent.body


def test_a_mail_server_that_does_not_answer_still_shows_the_link(cast, login, settings):
    with socket.socket() as probe:  # a port of this machine nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    response = add(login(cast.admin))
    assert response.status_code == 200
    assert "It could not be e-mailed to new@example.com" in response.text
    assert shown_link(response).startswith("/set-password/")
