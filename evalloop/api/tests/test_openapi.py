"""The OpenAPI document is valid, loads in the docs page and declares every error."""

import json
import re
from collections import Counter

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from openapi_spec_validator import validate

from evalloop.api.openapi import DESCRIPTIONS

ERROR_REF = "#/components/schemas/Error"
METHODS = {"get", "post", "put", "patch", "delete"}


def no_duplicated_keys(pairs):
    duplicated = [key for key, count in Counter(key for key, _ in pairs).items() if count > 1]
    assert not duplicated, f"duplicated keys {duplicated}"
    return dict(pairs)


@pytest.fixture(scope="module")
def document():
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return json.loads(response.content, object_pairs_hook=no_duplicated_keys)


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield f"{method.upper()} {path}", operation


def test_the_document_is_valid_openapi(document):
    validate(document)


def test_operation_ids_are_unique(document):
    ids = Counter(operation["operationId"] for _, operation in operations(document))
    assert [name for name, count in ids.items() if count > 1] == []


def test_every_operation_declares_the_errors_of_the_plumbing(document):
    for name, operation in operations(document):
        declared = {int(status) for status in operation["responses"]}
        expected = {400, 401, 414, 422, 429, 503}
        if "{" in name:
            expected.add(404)
        if "requestBody" in operation:
            expected.add(413)
        assert expected <= declared, name


def test_every_error_answers_the_one_error_schema(document):
    for name, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": ERROR_REF}, (name, status)
                assert response["description"] == DESCRIPTIONS[int(status)]
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"loc", "msg"}


def test_routers_declare_what_only_they_know(document):
    def statuses(method, path):
        responses = document["paths"][f"/api/v1{path}"][method]["responses"]
        return {int(status) for status in responses}

    assert {201, 403, 409} <= statuses("post", "/chatbots")
    assert {204, 403, 409} <= statuses("delete", "/datasets/{dataset_id}")
    assert 403 not in statuses("get", "/datasets")


def test_the_csv_download_declares_its_content_once(document):
    ok = document["paths"]["/api/v1/datasets/{dataset_id}/csv"]["get"]["responses"]["200"]
    assert set(ok["content"]) == {"text/csv"}


def test_the_docs_page_renders_the_document():
    client = Client()
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/api/v1/openapi.json" in html
    assets = re.findall(r'(?:src|href)="/static/([^"]+)"', html)
    assert assets
    for asset in assets:  # shipped, so collectstatic picks them up
        assert finders.find(asset), asset
