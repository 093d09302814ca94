"""The API answers every failure in one JSON shape, `{"detail": [{"loc", "msg"}, ...]}`."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory, override_settings
from ninja import NinjaAPI
from ninja.errors import Throttled

from evalloop.api import errors
from evalloop.chat.tests.factories import ChatbotFactory
from evalloop.datasets.tests.factories import DatasetFactory
from evalloop.filters import FilterError, Target, parse_filter
from evalloop.lib.errors import Conflict
from evalloop.teams.permissions import Role

BAD_FILTER = [{"field": "channel", "op": "eq", "value": "web"}, {"field": "nope", "op": "eq"}]


def make_api() -> NinjaAPI:
    api = NinjaAPI(urls_namespace="errors-test")
    errors.install(api)
    return api


def handle(exc: Exception):
    return make_api().on_exception(RequestFactory().get("/"), exc)


def detail(response):
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"detail"}
    for item in body["detail"]:
        assert isinstance(item["loc"], list)
        assert isinstance(item["msg"], str)
    return body["detail"]


def test_a_filter_error_names_the_clause_in_the_body():
    with pytest.raises(FilterError) as caught:
        parse_filter([{"field": "nope", "op": "eq", "value": 1}], target=Target.SESSION)
    response = handle(caught.value)
    assert response.status_code == 422
    [item] = detail(response)
    assert item["loc"] == ["body", "filter", 0, "nope"]
    assert "clause 1" in item["msg"]


def test_a_django_validation_error_names_its_body_field():
    response = handle(ValidationError({"name": "Taken."}))
    assert response.status_code == 422
    assert detail(response) == [{"loc": ["body", "name"], "msg": "Taken."}]


def test_a_validation_error_without_a_field_has_an_empty_loc():
    response = handle(ValidationError("Nope."))
    assert detail(response) == [{"loc": [], "msg": "Nope."}]


def test_throttling_is_429_with_retry_after():
    response = handle(Throttled(wait=2.5))
    assert response.status_code == 429
    assert response["Retry-After"] == "3"
    assert detail(response) == [{"loc": [], "msg": "Too many requests."}]


def test_a_conflict_is_409_with_the_same_shape():
    response = handle(Conflict("Runs are in flight."))
    assert response.status_code == 409
    assert detail(response) == [{"loc": [], "msg": "Runs are in flight."}]


def test_a_conflict_with_one_field_is_placed_at_it_in_the_body():
    response = handle(Conflict("A dataset named 'x' already exists in this team.", field="name"))
    assert response.status_code == 409
    message = "A dataset named 'x' already exists in this team."
    assert detail(response) == [{"loc": ["body", "name"], "msg": message}]


def test_a_bad_filter_answers_the_same_shape_from_every_endpoint(api, cast):
    ChatbotFactory(team=cast.team, slug="support")
    dataset = DatasetFactory(team=cast.team)
    client = api(Role.EDITOR)
    in_body = {"chatbot": "support", "filter": BAD_FILTER}
    answers = {
        ("query", "filter"): [
            client.get("/chatbots/support/sessions", filter=json.dumps(BAD_FILTER)),
        ],
        ("body", "filter"): [
            client.post("/chatbots/support/sessions/search", {"filter": BAD_FILTER}),
            client.post("/filters/validate", {"target": "session", "filter": BAD_FILTER}),
            client.post(f"/datasets/{dataset.pk}/import", in_body),
            client.post(f"/datasets/{dataset.pk}/import/count", in_body),
        ],
    }
    for at, responses in answers.items():
        for response in responses:
            assert response.status_code == 422
            [item] = detail(response)
            assert (item["loc"], item["type"]) == ([*at, 1, "nope"], "filter")
            assert item["msg"].startswith('clause 2 (nope): unknown field "nope"')


@pytest.mark.django_db
def test_validation_names_the_field_as_the_client_wrote_it(api, cast):
    client = api(Role.EDITOR)
    bad_body = client.post("/datasets", {"name": "x", "mode": "turn"})
    assert [item["loc"] for item in detail(bad_body)] == [["body", "mode"]]
    bad_query = client.get("/datasets", limit=0)
    assert [item["loc"] for item in detail(bad_query)] == [["query", "limit"]]
    bad_path = client.get("/datasets/abc")
    assert [item["loc"] for item in detail(bad_path)] == [["path", "dataset_id"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "method", "path"),
    [
        (401, "get", "/datasets"),
        (403, "post", "/datasets"),
        (404, "get", "/datasets/999999"),
        (404, "get", "/no-such-thing"),
        (404, "get", "/api/v2/datasets"),
        (405, "put", "/datasets"),
    ],
)
def test_every_error_is_json_with_loc_and_msg(api, status, method, path):
    client = Client() if status == 401 else api(Role.VIEWER).client
    url = path if path.startswith("/api/v2") else f"/api/v1{path}"
    body = {"name": "x", "mode": "session"}
    response = getattr(client, method)(url, body, content_type="application/json")
    assert response.status_code == status
    [item] = detail(response)
    assert item["loc"] == []
    if status == 405:
        assert "GET" in response["Allow"]
    if status == 401:
        assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["{nope", "[1, 2]", '"text"', "null", "\ud800"])
def test_a_body_that_is_not_a_json_object_is_422_at_the_body(api, body):
    response = api(Role.EDITOR).client.post(
        "/api/v1/datasets", body.encode("utf-8", "surrogatepass"), content_type="application/json"
    )
    assert response.status_code == 422
    assert [item["loc"] for item in detail(response)] == [["body"]]


@pytest.mark.django_db
def test_a_multipart_body_without_a_boundary_is_400(api, cast):
    dataset = DatasetFactory(team=cast.team)
    response = api(Role.EDITOR).client.post(
        f"/api/v1/datasets/{dataset.pk}/csv", b"--x\r\n", content_type="multipart/form-data"
    )
    assert response.status_code == 400
    detail(response)


@pytest.mark.django_db
@pytest.mark.parametrize("form", [{}, {"name": "support"}])
def test_a_form_body_sent_to_a_json_endpoint_is_415_naming_the_header(api, cast, form):
    # A client posting a form (or nothing, as a multipart form) where JSON is read.
    chatbot = ChatbotFactory(team=cast.team)
    client = api(Role.EDITOR).client
    for path in ("/api/v1/datasets", f"/api/v1/chatbots/{chatbot.slug}/sessions/s-1/end"):
        response = client.post(path, form)
        assert response.status_code == 415
        assert [item["loc"] for item in detail(response)] == [["header", "Content-Type"]]


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_error_is_a_logged_json_500_whatever_debug(api, monkeypatch, caplog, debug):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("evalloop.teams.api.TeamOut", broken)
    client = api(Role.VIEWER).client
    client.raise_request_exception = False
    with override_settings(DEBUG=debug):
        response = client.get("/api/v1/team")
    assert response.status_code == 500
    assert detail(response) == [{"loc": [], "msg": "Internal server error; it was logged."}]
    assert b"Traceback" not in response.content
    assert any(record.exc_info and "boom" in str(record.exc_info[1]) for record in caplog.records)


def test_a_refused_host_is_json_too():
    response = Client(HTTP_HOST="evil.example").get("/api/v1/team")
    assert response.status_code == 400
    assert detail(response) == [{"loc": [], "msg": "Bad Request."}]


def test_pages_outside_the_api_keep_their_html_errors():
    response = Client().get("/no-such-page")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


@override_settings(DEBUG=True)
def test_an_unknown_api_path_is_json_even_in_debug():
    response = Client().get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert detail(response) == [{"loc": [], "msg": "No API operation at /api/v1/no-such-thing."}]
    assert response["X-Content-Type-Options"] == "nosniff"  # the other headers stay


@pytest.mark.django_db
def test_too_many_query_fields_is_400(api):
    query = "&".join(f"f{n}=1" for n in range(10_001))
    response = api(Role.VIEWER).client.get(f"/api/v1/datasets?{query}")
    assert response.status_code == 400
    detail(response)
