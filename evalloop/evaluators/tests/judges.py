"""Providers and LLM-judge evaluators for tests and benchmarks, pointed at a local server."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from evalloop.evaluators import provider_services
from evalloop.evaluators.models import Evaluator, EvaluatorVersion, Provider
from evalloop.teams.models import Team

API_KEY = "sk-test-0123456789abcdef"
SCORE_SCHEMA: dict[str, Any] = {
    "fields": [
        {"name": "score", "type": "number", "min": 1, "max": 5},
        {"name": "verdict", "type": "category", "choices": ["good", "bad"]},
    ]
}
GOOD = {"score": 4, "verdict": "good"}


def make_provider(
    team: Team,
    base_url: str,
    *,
    kind: str = "openai",
    name: str = "Local",
    prices: dict[str, Any] | None = None,
) -> Provider:
    return provider_services.create_provider(
        team=team, name=name, kind=kind, base_url=base_url, api_key=API_KEY, prices=prices
    )


def make_judge(
    provider: Provider,
    *,
    name: str = "Judge",
    prompt: str = "Rate the answer {{output}} to {{input}}.",
    model: str = "judge-model",
    schema: dict[str, Any] | None = None,
    temperature: float | None = None,
) -> EvaluatorVersion:
    """An llm_judge evaluator of the provider's team, and its current version."""
    params: dict[str, Any] = {"provider": provider.pk, "model": model, "prompt": prompt}
    if temperature is not None:
        params["temperature"] = temperature
    schema = schema or SCORE_SCHEMA
    evaluator = Evaluator.objects.create(
        team=provider.team, name=name, kind="llm_judge", params=params, output_schema=schema
    )
    definition = json.dumps([evaluator.kind, params, schema], sort_keys=True)
    version = EvaluatorVersion.objects.create(
        team=provider.team,
        evaluator=evaluator,
        name=name,
        digest=hashlib.sha256(definition.encode()).hexdigest()[:16],
        kind="llm_judge",
        params=params,
        output_schema=schema,
    )
    evaluator.version = version
    evaluator.save(update_fields=["version"])
    return version
