"""URL converters shared by every app's urls.py."""

from __future__ import annotations

from evalloop.lib.inputs import MAX_ID


class IdConverter:
    """A row id in a URL: a positive integer within 64 bits; a larger one matches nothing (404)."""

    regex = "[1-9][0-9]{0,18}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if number > MAX_ID:
            raise ValueError(value)  # Django reads this as "no match"
        return number

    def to_url(self, value: int) -> str:
        return str(value)
