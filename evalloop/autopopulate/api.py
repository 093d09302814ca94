"""Auto-population rule endpoints, nested under their dataset, behind the team flag."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from ninja import Query, Router, Status
from ninja.errors import HttpError, ValidationError
from ninja.pagination import paginate

from evalloop.api.auth import api_team
from evalloop.api.errors import answers, problem
from evalloop.api.pagination import CursorPagination
from evalloop.autopopulate import services
from evalloop.autopopulate.explain import explain
from evalloop.autopopulate.models import TICKS_KEPT, Rule, Tick
from evalloop.autopopulate.preview import Preview, preview_rule
from evalloop.autopopulate.schemas import (
    Explained,
    PreviewIn,
    PreviewOut,
    RuleIn,
    RuleOut,
    RulePatch,
    RulePreviewIn,
    TickOut,
    TickSummaryOut,
    completion_fields,
)
from evalloop.autopopulate.tick import Summary, tick_rule
from evalloop.chat.models import Chatbot, Session
from evalloop.datasets.models import Dataset
from evalloop.filters import Target, parse_filter
from evalloop.lib.errors import Conflict
from evalloop.teams import flags
from evalloop.teams.access import get_for_team_or_404, team_objects
from evalloop.teams.models import Team
from evalloop.teams.permissions import Action

router = Router(tags=["rules"])
RULES = "/datasets/{dataset_id}/rules"
RULE = RULES + "/{rule_id}"
NOT_RUN = "The rule is switched off, or a tick is taking it now; nothing was run."


def _dataset(request: HttpRequest, dataset_id: int, action: Action = Action.VIEW) -> Dataset:
    """The team's dataset; every rules endpoint is a 404 while the team's flag is off."""
    team: Team = request.team  # type: ignore[attr-defined]
    if not flags.is_active(team, flags.AUTO_POPULATE_DATASETS):
        raise Http404("Not found.")
    return get_for_team_or_404(Dataset, api_team(request, action), pk=dataset_id)


def _rules(dataset: Dataset) -> QuerySet[Rule]:
    rules = Rule.objects.filter(dataset=dataset).select_related("dataset", "chatbot")
    return rules.with_rows_contributed()


def _rule(request: HttpRequest, dataset_id: int, rule_id: int, action: Action) -> Rule:
    dataset = _dataset(request, dataset_id, action)
    return get_for_team_or_404(_rules(dataset), dataset.team, pk=rule_id)


def _chatbot(team: Team, ref: int | str) -> int | Chatbot:
    """An id goes to the service, which checks it; a slug is looked up in the team."""
    if isinstance(ref, int):
        return ref
    chatbot = team_objects(Chatbot, team).filter(slug=ref).first()
    if chatbot is None:
        raise ValidationError([problem("Unknown chatbot.", "body", "chatbot")])
    return chatbot


def _fields(dataset: Dataset, body: RuleIn | RulePatch) -> dict[str, Any]:
    """The body's rule fields for the service; the mode, when given, must be the dataset's."""
    if body.mode is not None and body.mode != dataset.mode:
        message = f"The dataset's mode decides what a rule takes: here {dataset.mode}."
        raise ValidationError([problem(message, "body", "mode")])
    given = body.model_dump(exclude_unset=True, exclude={"mode", "enabled", "completion", "days"})
    if "filter" in given:
        # Parsed here first so that a bad clause is named by its place in the filter.
        parse_filter(given["filter"], target=Target.SESSION)
    if "chatbot" in given:
        given["chatbot"] = _chatbot(dataset.team, given["chatbot"])
    return {**given, **completion_fields(body.completion)}


def _preview(preview: Preview) -> dict[str, Any]:
    backfill = preview.backfill
    return {
        "days": preview.days,
        "unit": preview.unit,
        "would_add": preview.would_add.count,
        "estimate": preview.would_add.estimate,
        "examples": [
            {**asdict(example), "session": example.external_id} for example in preview.examples
        ],
        "backfill": backfill
        and {
            "since": backfill.since,
            "would_add": backfill.would_add.count,
            "estimate": backfill.would_add.estimate,
        },
        "evaluations": backfill.evaluations if backfill else None,
    }


def _summary(summary: Summary) -> dict[str, Any]:
    return {
        "rule_id": summary.rule_id,
        "status": str(summary.status),
        **asdict(summary.counts),
        "duration_ms": summary.duration_ms,
        "error": summary.error,
    }


@router.post(
    RULES,
    response={201: RuleOut, **answers(403, 409)},
    summary="Create a rule",
    description="A `start_at` in the past backfills from there on the next ticks.",
)
def create_rule(request: HttpRequest, dataset_id: int, body: RuleIn) -> Status[Rule]:
    dataset = _dataset(request, dataset_id, Action.EDIT)
    fields = _fields(dataset, body)
    rule = services.create_rule(dataset=dataset, enabled=body.enabled, **fields)
    return Status(201, _rules(dataset).get(pk=rule.pk))


@router.post(
    RULES + "/preview",
    response=PreviewOut,
    summary="Preview a rule before creating it",
    description="What a rule with these fields (as on creation) would take now; nothing is "
    "saved. Without a rule id to sample by, a sample rate below 1 gives an estimate.",
)
def preview_new_rule(request: HttpRequest, dataset_id: int, body: RulePreviewIn) -> dict[str, Any]:
    dataset = _dataset(request, dataset_id)
    fields = _fields(dataset, body)
    draft = services.draft_rule(dataset=dataset, **fields)
    return _preview(preview_rule(rule=draft, days=body.days))


@router.get(RULES, response=list[RuleOut], summary="List a dataset's rules")
@paginate(CursorPagination, newest_first=False)
def list_rules(request: HttpRequest, dataset_id: int) -> QuerySet[Rule]:
    return _rules(_dataset(request, dataset_id))


@router.get(RULE, response=RuleOut, summary="One rule with its status")
def get_rule(request: HttpRequest, dataset_id: int, rule_id: int) -> Rule:
    return _rule(request, dataset_id, rule_id, Action.VIEW)


@router.patch(
    RULE,
    response={200: RuleOut, **answers(403, 409)},
    summary="Change a rule, or switch it on or off",
    description="Changing what the rule takes scans its window again from `start_at`; "
    "sources it already took stay out. Switching it on clears its failure count.",
)
def update_rule(request: HttpRequest, dataset_id: int, rule_id: int, body: RulePatch) -> Rule:
    rule = _rule(request, dataset_id, rule_id, Action.EDIT)
    fields = _fields(rule.dataset, body)
    if fields:
        services.update_rule(rule=rule, **fields)
    if body.enabled is not None:
        services.set_enabled(rule=rule, enabled=body.enabled)
    return _rule(request, dataset_id, rule_id, Action.VIEW)


@router.delete(
    RULE,
    response={204: None, **answers(403, 409)},
    summary="Delete a rule (the rows it added stay)",
)
def delete_rule(request: HttpRequest, dataset_id: int, rule_id: int) -> Status[None]:
    services.delete_rule(rule=_rule(request, dataset_id, rule_id, Action.EDIT))
    return Status(204, None)


@router.post(
    RULE + "/preview",
    response=PreviewOut,
    summary="Preview what the rule would take now",
    description="Sources of the last `days` days it would take now (complete, matching, "
    "not in its ledger, sampled in), up to 5 examples, and with a past `start_at` the "
    "backfill and the evaluations it triggers.",
)
def preview_saved_rule(
    request: HttpRequest, dataset_id: int, rule_id: int, body: PreviewIn | None = None
) -> dict[str, Any]:
    rule = _rule(request, dataset_id, rule_id, Action.VIEW)
    return _preview(preview_rule(rule=rule, days=body.days if body else 7))


@router.post(
    RULE + "/run",
    response={200: TickSummaryOut, **answers(403, 409)},
    summary="Run one tick of this rule now",
    description="409 when the rule is switched off or another tick is taking it.",
)
def run_rule(request: HttpRequest, dataset_id: int, rule_id: int) -> dict[str, Any]:
    rule = _rule(request, dataset_id, rule_id, Action.EDIT)
    summary = tick_rule(rule_id=rule.pk)
    if summary is None:
        raise Conflict(NOT_RUN)
    return _summary(summary)


@router.get(
    RULE + "/ticks",
    response=list[TickOut],
    summary=f"The rule's last {TICKS_KEPT} ticks, newest first",
)
def list_ticks(request: HttpRequest, dataset_id: int, rule_id: int) -> list[Tick]:
    rule = _rule(request, dataset_id, rule_id, Action.VIEW)
    return list(Tick.objects.filter(rule=rule).order_by("-id")[:TICKS_KEPT])


# Explain


@router.get(
    RULE + "/explain",
    response={200: Explained, **answers(404)},
    summary="Why a session is, or is not, in the rule's dataset",
    description="`session` is the external id of a session of the rule's chatbot. Message "
    "mode answers each AI turn in `turns`.",
)
def explain_session(
    request: HttpRequest,
    dataset_id: int,
    rule_id: int,
    session: Annotated[str, Query(min_length=1, max_length=255)],
) -> dict[str, Any]:
    rule = _rule(request, dataset_id, rule_id, Action.VIEW)
    found = Session.objects.filter(
        team_id=rule.dataset.team_id, chatbot_id=rule.chatbot_id, external_id=session
    ).first()
    if found is None:
        raise HttpError(404, f"No session {session!r} of chatbot {rule.chatbot.slug}.")
    answer = asdict(explain(rule=rule, session=found))
    return {**answer, "rule": rule.pk, "session": found.external_id}
