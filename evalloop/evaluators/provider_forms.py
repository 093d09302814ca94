"""The provider form of the settings pages; the services check every value again."""

from __future__ import annotations

import math
from typing import Any

from django import forms

from evalloop.evaluators.models import Provider, ProviderKind
from evalloop.evaluators.provider_services import MAX_BASE_URL, MAX_KEY, MAX_NAME

PRICES_HELP = (
    "Optional. One model a line: its name, then the input and output prices per million "
    "tokens, e.g. “gpt-4o-mini 0.15 0.60”. Evaluations with a priced model record their cost."
)


def prices_text(prices: dict[str, Any]) -> str:
    """Prices as the form's lines."""
    return "\n".join(f"{model} {p['input']:g} {p['output']:g}" for model, p in prices.items())


def parse_prices(text: str) -> dict[str, dict[str, float]]:
    """The form's lines as prices; ValidationError naming the first bad line."""
    prices: dict[str, dict[str, float]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        model, price_in, price_out = _price_line(number, line)
        if model in prices:
            raise forms.ValidationError(f"Line {number}: {model} is priced twice.")
        prices[model] = {"input": price_in, "output": price_out}
    return prices


def _price_line(number: int, line: str) -> tuple[str, float, float]:
    parts = line.replace(",", " ").split()
    try:
        model, price_in, price_out = parts[0], float(parts[1]), float(parts[2])
    except (IndexError, ValueError):
        price_in = price_out = math.nan
    if len(parts) != 3 or not (math.isfinite(price_in) and math.isfinite(price_out)):
        raise forms.ValidationError(
            f"Line {number}: write a model name and two prices, e.g. “gpt-4o-mini 0.15 0.60”."
        )
    return model, price_in, price_out


class ProviderForm(forms.Form):
    name = forms.CharField(max_length=MAX_NAME, help_text="Unique in the team, e.g. “OpenAI”.")
    kind = forms.ChoiceField(
        choices=ProviderKind.choices,
        help_text="OpenAI-compatible covers OpenAI and any server speaking its API. "
        "Fixed once added.",
    )
    base_url = forms.CharField(
        label="Base URL",
        required=False,
        max_length=MAX_BASE_URL,
        help_text="Empty for the official endpoint. For another OpenAI-compatible server, the "
        "URL its docs give the openai client, e.g. http://127.0.0.1:11434/v1.",
    )
    api_key = forms.CharField(
        label="API key",
        max_length=MAX_KEY,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted; it is never shown again, only a hint.",
    )
    prices = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text=PRICES_HELP
    )

    def __init__(self, *args: Any, provider: Provider | None = None, **kwargs: Any) -> None:
        if provider is not None:
            kwargs.setdefault("initial", {}).update(
                name=provider.name,
                kind=provider.kind,
                base_url=provider.base_url,
                prices=prices_text(provider.prices),
            )
        super().__init__(*args, **kwargs)
        if provider is not None:
            self.fields["kind"].disabled = True
            self.fields["api_key"].required = False
            self.fields[
                "api_key"
            ].help_text = (
                f"Leave empty to keep the current key ({provider.key_hint}); a new one replaces it."
            )

    def clean_prices(self) -> dict[str, dict[str, float]]:
        return parse_prices(self.cleaned_data.get("prices") or "")
