"""Form fields shared by every app's forms."""

from __future__ import annotations

from typing import Any

from django import forms

from evalloop.lib.inputs import MAX_DEPTH, UnsafeValue, check_value


class JSONField(forms.JSONField):
    """Django's JSON form field, refusing what cannot be stored (NaN, NUL, deep nesting)."""

    def to_python(self, value: Any) -> Any:
        try:
            return check_value(super().to_python(value))
        except RecursionError:
            raise forms.ValidationError(f"Nested deeper than {MAX_DEPTH} levels.") from None
        except UnsafeValue as exc:
            raise forms.ValidationError(str(exc)[:1].upper() + str(exc)[1:] + ".") from None

    def prepare_value(self, value: Any) -> Any:
        # An empty box shows empty, not the word "null" for the user to delete first.
        return "" if value is None else super().prepare_value(value)
