"""LLM judge: a provider's model scores a row by a prompt template, in the output schema."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from pydantic import Field, ValidationError, field_validator

from evalloop.evaluators.kinds.base import Outcome, RowData
from evalloop.evaluators.kinds.llm_judge import template
from evalloop.evaluators.models import Evaluator, EvaluatorVersion, Provider, ProviderKind
from evalloop.evaluators.providers import UNREADABLE_KEY, Ask, Endpoint, judge_all
from evalloop.lib import crypto
from evalloop.lib.inputs import MAX_ID, Strict
from evalloop.teams.models import Team

MAX_PROMPT = 50_000
SYSTEM = (
    "You are a careful, impartial evaluator of a chatbot's conversations. Judge only what "
    "the instructions ask, from what they show you."
)

NO_PROVIDER = (
    "the judge has no provider: configure one under Settings > Providers, then choose it "
    "on the evaluator"
)

Problems = list[tuple[tuple[str | int, ...], str]]


class JudgeParams(Strict):
    provider: int | None = Field(
        None,
        gt=0,
        le=MAX_ID,
        description=(
            "The id of one of the team's LLM providers (Settings > Providers). Empty for "
            "none yet: the judge is saved, and runs once one is chosen."
        ),
        json_schema_extra={"widget": "provider"},
    )
    model: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^\S+$",
        description="The model's name at the provider, e.g. gpt-4o-mini.",
    )
    prompt: str = Field(
        min_length=1,
        max_length=MAX_PROMPT,
        description="What to judge. " + template.HELP.capitalize() + ".",
        json_schema_extra={"widget": "textarea"},
    )
    temperature: float | None = Field(
        None,
        ge=0,
        le=2,
        description="Sampling temperature (OpenAI-compatible providers); empty for the default.",
    )

    @field_validator("provider", mode="before")
    @classmethod
    def _not_a_boolean(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("a provider is given by its id")
        return value

    @field_validator("model", mode="before")
    @classmethod
    def _trimmed(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


class LlmJudge:
    name: ClassVar[str] = "llm_judge"
    label: ClassVar[str] = "LLM judge"
    params_model: ClassVar[type[Strict]] = JudgeParams
    fixed_schema: ClassVar[dict[str, Any] | None] = None

    def problems(self, *, team: Team, params: Strict) -> Problems:
        """Refuse unknown variables, another team's provider, a temperature it cannot take."""
        assert isinstance(params, JudgeParams)
        found: Problems = []
        unknown = template.unknown_variables(params.prompt)
        if unknown:
            found.append((("prompt",), template.unknown_message(unknown)))
        if params.provider is None:
            return found
        provider = Provider.objects.for_team(team).filter(pk=params.provider).first()
        if provider is None:
            found.append((("provider",), "No provider with this id in this team."))
        elif provider.kind == ProviderKind.ANTHROPIC and params.temperature is not None:
            found.append(
                (
                    ("temperature",),
                    "Anthropic's messages API takes no temperature; leave it empty.",
                )
            )
        return found

    def evaluate_many(self, *, version: EvaluatorVersion, rows: Sequence[RowData]) -> list[Outcome]:
        try:
            params = JudgeParams.model_validate(version.params)
            endpoint = _endpoint(version, params)
        except _Unusable as exc:
            return [Outcome(error=str(exc)) for _ in rows]
        except ValidationError as exc:
            return [Outcome(error=f"the evaluator's params are invalid: {exc}") for _ in rows]
        asks = [_ask(params, version.output_schema, row) for row in rows]
        return judge_all(endpoint, asks)


class _Unusable(Exception):
    """Every row of the batch fails for the same reason: the provider cannot be called."""


def _endpoint(version: EvaluatorVersion, params: JudgeParams) -> Endpoint:
    if params.provider is None:
        raise _Unusable(NO_PROVIDER)
    provider = Provider.objects.filter(team_id=version.team_id, pk=params.provider).first()
    if provider is None:
        raise _Unusable("the evaluator's provider no longer exists; choose another")
    try:
        return Endpoint.of(provider)
    except crypto.Undecryptable:
        raise _Unusable(UNREADABLE_KEY) from None


def _ask(params: JudgeParams, schema: dict[str, Any], row: RowData) -> Ask:
    return Ask(
        model=params.model,
        system=SYSTEM,
        prompt=template.render(params.prompt, row),
        schema=schema,
        temperature=params.temperature,
    )


KIND = LlmJudge()


def without_provider(evaluators: Iterable[Evaluator]) -> list[Evaluator]:
    """The judges among `evaluators` that cannot run: no provider chosen, or it is gone."""
    judges = [each for each in evaluators if each.kind == LlmJudge.name]
    chosen = {each.params.get("provider") for each in judges}
    ids = [pk for pk in chosen if isinstance(pk, int) and not isinstance(pk, bool)]
    found = Provider.objects.filter(pk__in=ids).values_list("team_id", "pk") if ids else []
    existing = set(found)
    return [each for each in judges if (each.team_id, each.params.get("provider")) not in existing]
