"""Operations on LLM providers: add, change and remove a team's endpoints and their keys."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from pydantic import Field, StringConstraints, TypeAdapter
from pydantic import ValidationError as PydanticError

from evalloop.evaluators.models import Evaluator, Provider, ProviderKind
from evalloop.lib import crypto
from evalloop.lib.errors import Conflict
from evalloop.lib.inputs import Strict, describe_path, text_problem
from evalloop.lib.locking import lock_or_404
from evalloop.runs.models import Run
from evalloop.teams.models import Team

MAX_NAME = 100
MAX_BASE_URL = 500
MAX_KEY = 1000
MAX_MODELS = 200
MAX_PRICE = 1_000_000  # per million tokens: far beyond any real price, still a sane number
JUDGE_KIND = "llm_judge"

# A key is sent in an HTTP header: printable ASCII, no spaces.
_KEY_CHARACTERS = re.compile(r"^[\x21-\x7e]+$")

ModelName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^\S+$")
]


class Price(Strict):
    """What a model costs, in currency units per million tokens read (input) and written."""

    input: float = Field(ge=0, le=MAX_PRICE, allow_inf_nan=False)
    output: float = Field(ge=0, le=MAX_PRICE, allow_inf_nan=False)


Prices = Annotated[dict[ModelName, Price], Field(max_length=MAX_MODELS)]
_PRICES: TypeAdapter[dict[str, Price]] = TypeAdapter(Prices)


def key_hint(api_key: str) -> str:
    """A reminder of a key that gives it away: `sk-...f3a9`, fewer characters when short."""
    shown = len(api_key) // 5  # never more than two fifths of the key
    head, tail = min(3, shown), min(4, shown)
    return f"{api_key[:head]}...{api_key[len(api_key) - tail :] if tail else ''}"


def clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A provider needs a name."})
    if len(name) > MAX_NAME:
        raise ValidationError({"name": f"At most {MAX_NAME} characters."})
    if problem := text_problem(name):
        raise ValidationError({"name": f"The name {problem}."})
    return name


def clean_base_url(base_url: str) -> str:
    """An http(s) URL without credentials, or "" for the kind's official endpoint."""
    url = base_url.strip()
    if not url:
        return ""
    problem = _url_problem(url)
    if problem:
        raise ValidationError({"base_url": problem})
    return url.rstrip("/")


def _url_problem(url: str) -> str | None:
    if len(url) > MAX_BASE_URL:
        return f"At most {MAX_BASE_URL} characters."
    if not url.isascii() or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "A URL has no spaces, control or non-ASCII characters (encode them)."
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        return "Not a URL (check the port)."
    if parts.scheme not in ("http", "https"):
        return "Use an http:// or https:// URL, e.g. https://api.openai.com/v1."
    if not parts.hostname:
        return "The URL names no host."
    if parts.username is not None or parts.password is not None:
        return (
            "Put no credentials in the URL: the API key field is stored encrypted, the URL is not."
        )
    if parts.fragment:
        return "A base URL has no #fragment."
    return None


def clean_api_key(api_key: str) -> str:
    key = api_key.strip()
    if not key:
        raise ValidationError({"api_key": "Enter the provider's API key."})
    if len(key) > MAX_KEY:
        raise ValidationError({"api_key": f"At most {MAX_KEY} characters."})
    if not _KEY_CHARACTERS.match(key):
        raise ValidationError(
            {"api_key": "An API key is printable ASCII without spaces; check what was pasted."}
        )
    return key


def clean_prices(prices: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Prices per model as stored: `{model: {"input": p, "output": p}}`."""
    try:
        checked = _PRICES.validate_python(dict(prices))
    except PydanticError as exc:
        first = exc.errors()[0]
        where = describe_path(tuple(first["loc"]))
        message = f"{where}: {first['msg']}" if where else first["msg"]
        raise ValidationError({"prices": message}) from None
    return {model: {"input": p.input, "output": p.output} for model, p in checked.items()}


def _name_taken(provider: Provider) -> str:
    return f"A provider named {provider.name!r} already exists in this team."


def _save(provider: Provider) -> Provider:
    taken = Provider.objects.for_team(provider.team).filter(name=provider.name)
    if provider.pk is not None:
        taken = taken.exclude(pk=provider.pk)
    if taken.exists():
        raise Conflict(_name_taken(provider), field="name")
    try:
        with transaction.atomic():  # a savepoint: a racing twin leaves this transaction usable
            provider.save()
    except IntegrityError:
        raise Conflict(_name_taken(provider), field="name") from None
    return provider


def _set_key(provider: Provider, api_key: str) -> None:
    key = clean_api_key(api_key)
    provider.encrypted_key = crypto.encrypt(key)
    provider.key_hint = key_hint(key)


@transaction.atomic
def create_provider(
    *,
    team: Team,
    name: str,
    kind: str,
    api_key: str,
    base_url: str = "",
    prices: Mapping[str, Any] | None = None,
) -> Provider:
    if kind not in ProviderKind.values:
        raise ValidationError({"kind": f"Must be one of: {', '.join(ProviderKind.values)}."})
    provider = Provider(
        team=team,
        name=clean_name(name),
        kind=kind,
        base_url=clean_base_url(base_url),
        prices=clean_prices(prices or {}),
    )
    _set_key(provider, api_key)
    return _save(provider)


@transaction.atomic
def update_provider(
    *,
    provider: Provider,
    name: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    prices: Mapping[str, Any] | None = None,
) -> Provider:
    """Change what is given; a new key replaces the old one, none keeps it. The kind is fixed."""
    lock_or_404(provider)
    if name is not None:
        provider.name = clean_name(name)
    if base_url is not None:
        provider.base_url = clean_base_url(base_url)
    if api_key is not None:
        _set_key(provider, api_key)
    if prices is not None:
        provider.prices = clean_prices(prices)
    provider.updated_at = timezone.now()
    return _save(provider)


def evaluators_using(provider: Provider) -> list[str]:
    """Names of the team's evaluators whose current definition calls `provider`."""
    judges = Evaluator.objects.for_team(provider.team).filter(kind=JUDGE_KIND)
    return list(judges.filter(params__provider=provider.pk).values_list("name", flat=True))


def _runs_using(provider: Provider) -> bool:
    """Whether an unfinished run's frozen plan holds a judge version that calls `provider`."""
    return (
        Run.objects.for_team(provider.team)
        .unfinished()
        .filter(
            plan_evaluators__version__kind=JUDGE_KIND,
            plan_evaluators__version__params__provider=provider.pk,
        )
        .exists()
    )


@transaction.atomic
def delete_provider(*, provider: Provider) -> None:
    """Delete a provider no evaluator uses; Conflict naming the evaluators otherwise."""
    lock_or_404(provider)
    names = evaluators_using(provider)
    if names:
        listed = ", ".join(repr(name) for name in names)
        raise Conflict(
            f"The provider {provider.name!r} is used by the evaluators {listed}; "
            "point them to another provider or delete them first."
        )
    if _runs_using(provider):
        raise Conflict(
            f"Runs in progress call the provider {provider.name!r}; delete it when they finish."
        )
    provider.delete()
