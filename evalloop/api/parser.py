"""Read JSON request bodies: every body the API takes is a JSON object."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from ninja.parser import Parser


class UnreadableBody(ValueError):
    """A body that is not a JSON object (the API answers 422 at `["body"]`)."""


class JsonObjectParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        try:
            data = json.loads(request.body)
        except RecursionError:
            raise UnreadableBody("The body is JSON nested too deeply to read.") from None
        except ValueError as exc:
            raise UnreadableBody(f"The body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise UnreadableBody("The body must be a JSON object.")
        return data
