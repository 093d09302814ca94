"""The API plumbing answers every failure as JSON naming the problem."""

import json

import pytest
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from ninja import NinjaAPI

from evalloop.api import errors
from evalloop.filters import FilterError, Target, parse_filter
from evalloop.lib.errors import Conflict


def make_api() -> NinjaAPI:
    api = NinjaAPI(urls_namespace="errors-test")
    errors.install(api)
    return api


def handle(api: NinjaAPI, exc: Exception):
    request = RequestFactory().get("/")
    return api.on_exception(request, exc)


def test_a_filter_error_is_422_naming_the_clause():
    with pytest.raises(FilterError) as caught:
        parse_filter([{"field": "nope", "op": "eq", "value": 1}], target=Target.SESSION)
    response = handle(make_api(), caught.value)
    assert response.status_code == 422
    detail = json.loads(response.content)["detail"]
    assert detail[0]["loc"] == ["filter", 0]
    assert "clause 1" in detail[0]["msg"]


def test_a_django_validation_error_names_its_field():
    response = handle(make_api(), ValidationError({"name": "Taken."}))
    assert response.status_code == 422
    assert b'"loc": ["name"]' in response.content


def test_a_conflict_is_409():
    response = handle(make_api(), Conflict("Runs are in flight."))
    assert response.status_code == 409
    assert b"Runs are in flight." in response.content
