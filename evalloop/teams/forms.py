from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import validate_slug

from evalloop.teams.models import Team


class LoginForm(AuthenticationForm):
    username = forms.EmailField(label="E-mail", widget=forms.EmailInput(attrs={"autofocus": True}))


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100)
    slug = forms.CharField(
        max_length=50,
        validators=[validate_slug],
        help_text="Letters, numbers, hyphens; used in URLs and the CLI.",
    )

    def clean_slug(self) -> str:
        slug: str = self.cleaned_data["slug"].lower()
        if Team.objects.filter(slug=slug).exists():
            raise forms.ValidationError("A team with this slug already exists.")
        return slug
