from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.utils.text import slugify

from evalloop.teams import throttle
from evalloop.teams.models import Team
from evalloop.teams.permissions import Action, Role, can

# An API key acts for the team; it never owns it.
API_KEY_ROLES = (Role.ADMIN, Role.EDITOR, Role.VIEWER)


def grantable_roles(actor_role: str | None) -> list[tuple[str, str]]:
    """Answer the role choices `actor_role` may hand out: only owners make owners."""
    grants_owner = can(actor_role, Action.MANAGE_OWNERS)
    return [(value, label) for value, label in Role.choices if grants_owner or value != Role.OWNER]


class LoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "This e-mail and password do not match an account.",
    }
    username = forms.EmailField(
        label="E-mail",
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    retry_after: int | None = None  # seconds, when the attempt was throttled

    def clean_username(self) -> str:
        # Addresses are stored in lower case, so "Ann@Example.com" logs in too.
        return str(self.cleaned_data["username"]).strip().lower()

    def clean(self) -> dict[str, Any]:
        email = self.cleaned_data.get("username")
        if not email or not self.cleaned_data.get("password") or self.request is None:
            return super().clean()
        keys = throttle.login_keys(self.request, email)
        try:
            throttle.check(keys)
        except throttle.Throttled as exc:
            self.retry_after = exc.retry_after
            raise ValidationError(str(exc), code="throttled") from None
        try:
            return super().clean()
        except ValidationError as exc:
            if exc.code == "invalid_login":
                throttle.record_failure(keys)
            raise


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100)
    slug = forms.CharField(
        max_length=50,
        required=False,
        validators=[validate_slug],
        help_text="Letters, numbers, hyphens; used in URLs and the CLI. "
        "Leave empty to derive it from the name.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "name" in cleaned and "slug" in cleaned:
            slug = (cleaned["slug"] or slugify(cleaned["name"])).lower()
            if not slug:
                self.add_error("slug", "Choose a slug: the name has no letters or digits.")
            elif Team.objects.filter(slug=slug).exists():
                self.add_error("slug", "A team with this slug already exists.")
            cleaned["slug"] = slug
        return cleaned


class MemberAddForm(forms.Form):
    email = forms.EmailField(
        label="E-mail",
        max_length=254,
        help_text="Someone without an account gets one, and you a link to pass on for them "
        "to set their password.",
    )
    role = forms.ChoiceField(initial=Role.VIEWER)

    def __init__(self, *args: Any, actor_role: str | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = grantable_roles(actor_role)  # type: ignore[attr-defined]


class RoleChangeForm(forms.Form):
    role = forms.ChoiceField()

    def __init__(self, *args: Any, actor_role: str | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = grantable_roles(actor_role)  # type: ignore[attr-defined]


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Say what uses it, e.g. “support-bot prod”.")
    role = forms.ChoiceField(
        choices=[(role.value, role.label) for role in API_KEY_ROLES],
        initial=Role.EDITOR,
        help_text="What the key may do: viewers read, editors also write, admins also manage.",
    )


class FlagSwitchForm(forms.Form):
    active = forms.BooleanField(required=False)
