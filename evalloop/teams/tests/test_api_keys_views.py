"""Settings > API keys: admins create (shown once) and revoke; everyone else reads the list."""

import pytest
from django.urls import reverse

from evalloop.teams import services
from evalloop.teams.models import ApiKey
from evalloop.teams.permissions import Role

KEYS = reverse("settings-api-keys")


def revoke_url(api_key):
    return reverse("settings-api-key-revoke", args=[api_key.pk])


def create(client, name="support-bot prod", role=Role.EDITOR):
    return client.post(KEYS, {"name": name, "role": role})


def test_an_admin_creates_a_key_and_sees_the_plaintext_once(cast, login):
    client = login(cast.admin)
    response = create(client)
    assert response.status_code == 200
    api_key = ApiKey.objects.get(team=cast.team, name="support-bot prod")
    plaintext = response.context["issued"].plaintext
    assert plaintext in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert services.authenticate_api_key(plaintext) == api_key
    assert plaintext not in client.get(KEYS).content.decode()


def test_the_plaintext_is_stored_nowhere(cast, login):
    client = login(cast.admin)
    plaintext = create(client).context["issued"].plaintext
    secret = plaintext.split("_", 2)[2]  # the secret itself may hold "_"
    api_key = ApiKey.objects.get(team=cast.team)
    assert secret not in api_key.digest
    assert all(secret not in str(value) for value in client.session.values())


def test_the_key_gets_the_chosen_role_and_its_creator(cast, login):
    create(login(cast.admin), role=Role.VIEWER)
    api_key = ApiKey.objects.get(team=cast.team)
    assert (api_key.role, api_key.created_by) == (Role.VIEWER, cast.admin)


def test_a_key_cannot_be_an_owner(cast, login):
    response = create(login(cast.owner), role=Role.OWNER)
    assert "owner is not one of the available choices" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_a_key_needs_a_name(cast, login):
    response = create(login(cast.admin), name="")
    assert "This field is required" in response.content.decode()
    assert "issued" not in response.context or response.context["issued"] is None
    assert not ApiKey.objects.exists()


def test_the_list_shows_prefix_role_creator_use_and_revocation(cast, login):
    active = services.create_api_key(team=cast.team, name="live", created_by=cast.owner).api_key
    gone = services.create_api_key(team=cast.team, name="old", role=Role.VIEWER).api_key
    services.revoke_api_key(api_key=gone)
    services.authenticate_api_key(services.create_api_key(team=cast.team, name="used").plaintext)
    html = login(cast.viewer).get(KEYS).content.decode()
    assert f"ev_{active.prefix}_" in html
    assert "owner@a.example" in html
    assert "revoked" in html
    assert "never" in html
    assert "just now" in html
    assert active.digest not in html


def test_the_list_never_shows_other_teams_keys(cast, login):
    theirs = services.create_api_key(team=cast.other_team, name="theirs").api_key
    assert theirs.prefix not in login(cast.admin).get(KEYS).content.decode()


def test_the_list_costs_the_same_queries_for_any_number_of_keys(
    cast, login, django_assert_num_queries
):
    for number in range(20):
        services.create_api_key(team=cast.team, name=f"k{number}", created_by=cast.owner)
    client = login(cast.admin)
    # session, user, membership, unread count, the user's teams; then the keys with creators
    with django_assert_num_queries(6):
        assert client.get(KEYS).status_code == 200


def test_the_viewer_reads_the_list_without_controls(cast, login):
    api_key = services.create_api_key(team=cast.team, name="k").api_key
    html = login(cast.viewer).get(KEYS).content.decode()
    assert "Create an API key" not in html
    assert revoke_url(api_key) not in html


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_cannot_create_keys(cast, login, role):
    assert create(login(getattr(cast, role))).status_code == 403
    assert not ApiKey.objects.exists()


def test_the_revoke_page_asks_for_confirmation(cast, login):
    api_key = services.create_api_key(team=cast.team, name="k").api_key
    response = login(cast.admin).get(revoke_url(api_key))
    assert response.status_code == 200
    assert "Revoke “k”?" in response.content.decode()
    api_key.refresh_from_db()
    assert api_key.is_active


def test_an_admin_revokes_a_key_and_it_stops_working(cast, login, client):
    issued = services.create_api_key(team=cast.team, name="k")
    response = login(cast.admin).post(revoke_url(issued.api_key))
    assert response.status_code == 302
    issued.api_key.refresh_from_db()
    assert not issued.api_key.is_active
    bearer = f"Bearer {issued.plaintext}"
    assert client.get("/api/v1/team", HTTP_AUTHORIZATION=bearer).status_code == 401


def test_revoking_twice_keeps_the_first_time(cast, login):
    api_key = services.create_api_key(team=cast.team, name="k").api_key
    client = login(cast.admin)
    client.post(revoke_url(api_key))
    api_key.refresh_from_db()
    first = api_key.revoked_at
    client.post(revoke_url(api_key))
    api_key.refresh_from_db()
    assert api_key.revoked_at == first


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_cannot_revoke(cast, login, role):
    api_key = services.create_api_key(team=cast.team, name="k").api_key
    client = login(getattr(cast, role))
    assert client.get(revoke_url(api_key)).status_code == 403
    assert client.post(revoke_url(api_key)).status_code == 403
    api_key.refresh_from_db()
    assert api_key.is_active


def test_the_outsider_gets_404_for_team_a_keys(cast, login):
    api_key = services.create_api_key(team=cast.team, name="k").api_key
    client = login(cast.outsider)
    assert client.get(revoke_url(api_key)).status_code == 404
    assert client.post(revoke_url(api_key)).status_code == 404
    api_key.refresh_from_db()
    assert api_key.is_active


def test_the_outsider_creates_keys_for_their_own_team(cast, login):
    create(login(cast.outsider))
    assert ApiKey.objects.get().team == cast.other_team
