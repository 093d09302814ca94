import pytest

from evalloop.filters.language import FIELDS, Target
from evalloop.teams.permissions import Role

GOOD = [
    {"field": "tags", "op": "any_of", "value": ["vip"]},
    {"field": "created_at", "op": "within_last", "value": "7d"},
]


@pytest.mark.parametrize("role", list(Role))
def test_any_role_may_list_the_fields(cast, api, role):
    response = api(role).get("/filters/fields", target="session")
    assert response.status_code == 200
    body = response.json()
    assert body["target"] == "session"
    assert [field["name"] for field in body["fields"]] == list(FIELDS[Target.SESSION])


def test_fields_describe_operators_and_value_types(cast, api):
    body = api(Role.VIEWER).get("/filters/fields", target="message").json()
    tags = next(field for field in body["fields"] if field["name"] == "session.tags")
    any_of = next(op for op in tags["operators"] if op["name"] == "any_of")
    assert any_of["label"] == "any of"
    assert any_of["value_type"]["name"] == "name list"
    assert any_of["value_type"]["example"] == ["vip"]
    assert any_of["description"]


def test_an_unknown_target_is_422_naming_it(cast, api):
    response = api(Role.VIEWER).get("/filters/fields", target="chatbot")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "target"


def test_a_valid_filter_is_valid(cast, api):
    response = api(Role.VIEWER).post("/filters/validate", {"target": "session", "filter": GOOD})
    assert response.status_code == 200
    assert response.json() == {
        "valid": True,
        "description": ["tags any of vip", "created within the last 7 days"],
    }


def test_an_invalid_filter_is_422_naming_each_clause(cast, api):
    bad = [*GOOD, {"field": "tags", "op": "gt", "value": 1}, {"field": "x", "op": "eq"}]
    response = api(Role.EDITOR).post("/filters/validate", {"target": "session", "filter": bad})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [d["loc"] for d in detail] == [["body", "filter", 2, "tags"], ["body", "filter", 3, "x"]]
    assert detail[0]["msg"].startswith('clause 3 (tags): operator "gt" does not apply')


def test_a_filter_that_is_not_a_list_is_422(cast, api):
    response = api().post("/filters/validate", {"target": "message", "filter": {"field": "x"}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "filter"]


def test_validate_needs_a_known_target_and_a_filter(cast, api):
    response = api().post("/filters/validate", {"target": "chatbot", "filter": GOOD})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "target"
    response = api().post("/filters/validate", {"target": "session"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "filter"


def test_an_outsiders_key_works_for_its_own_team(cast, api):
    key = api(Role.VIEWER, team=cast.other_team)
    assert key.get("/filters/fields").status_code == 200
    response = key.post("/filters/validate", {"target": "session", "filter": GOOD})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path"), [("get", "/api/v1/filters/fields"), ("post", "/api/v1/filters/validate")]
)
def test_no_key_is_401(client, db, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 401


def test_the_endpoints_are_in_the_openapi_schema(client, db):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/filters/fields" in paths
    assert "/api/v1/filters/validate" in paths
