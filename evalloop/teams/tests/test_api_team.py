from evalloop.teams import services
from evalloop.teams.permissions import Role


def test_it_answers_the_keys_team(cast, api):
    response = api(Role.VIEWER).get("/team")
    assert response.status_code == 200
    assert response.json() == {"slug": "team-a", "name": "Team A"}


def test_another_teams_key_sees_its_own_team(cast, api):
    response = api(Role.EDITOR, team=cast.other_team).get("/team")
    assert response.json()["slug"] == "team-b"


def test_a_missing_key_is_401_with_json(client, db):
    response = client.get("/api/v1/team")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_a_wrong_key_is_401(cast, client):
    issued = services.create_api_key(team=cast.team, name="k")
    forged = issued.plaintext[:-4] + "AAAA"
    response = client.get("/api/v1/team", HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert response.status_code == 401


def test_a_revoked_key_is_401(cast, client):
    issued = services.create_api_key(team=cast.team, name="k")
    services.revoke_api_key(api_key=issued.api_key)
    response = client.get("/api/v1/team", HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")
    assert response.status_code == 401


def test_it_records_the_keys_last_use(cast, client):
    issued = services.create_api_key(team=cast.team, name="k")
    client.get("/api/v1/team", HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")
    issued.api_key.refresh_from_db()
    assert issued.api_key.last_used_at is not None


def test_the_openapi_schema_is_served(client, db):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/team" in response.json()["paths"]
