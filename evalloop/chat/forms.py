from __future__ import annotations

from typing import Any

from django import forms

from evalloop.chat.log_import import FORMATS, MAX_IMPORT_BYTES, detect_format
from evalloop.chat.models import Chatbot
from evalloop.teams.models import Team


class ChatbotForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=64, help_text="Letters, numbers, hyphens; chatbots send it with their traffic."
    )

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.team = team

    def clean_slug(self) -> str:
        slug: str = self.cleaned_data["slug"]
        if Chatbot.objects.for_team(self.team).filter(slug=slug).exists():
            raise forms.ValidationError("A chatbot with this slug already exists.")
        return slug


class TagForm(forms.Form):
    """Add one tag, or remove one: what a tag control of the transcript sends."""

    add = forms.CharField(max_length=100, required=False, strip=True)
    remove = forms.CharField(max_length=100, required=False, strip=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("add") or data.get("remove")):
            raise forms.ValidationError("Name a tag.")
        return data


class LogImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV or JSON Lines, one message a row; at most "
        f"{MAX_IMPORT_BYTES // (1024 * 1024)} MB."
    )
    format = forms.ChoiceField(
        choices=[("", "From the file name"), *((f, f.upper()) for f in FORMATS)],
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload is None:
            return data
        if upload.size > MAX_IMPORT_BYTES:
            self.add_error("file", f"The file is larger than {MAX_IMPORT_BYTES // 2**20} MB.")
        data["format"] = data.get("format") or detect_format(upload.name or "")
        if not data["format"]:
            self.add_error("format", "Choose the format: the file name does not say it.")
        return data
