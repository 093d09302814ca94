"""Panels other apps' pages show about auto-population, without importing this app.

The transcript page shows what each rule watching the chatbot decided for the session; a
config's page shows the rules that feed its dataset and the rows its limits held back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone

from evalloop.autopopulate.explain import Decision, explain_rules
from evalloop.autopopulate.models import CappedDay, PendingRow, Rule
from evalloop.autopopulate.services import rule_filter
from evalloop.chat.models import Session
from evalloop.runs.models import Config, Run, RunType, Trigger
from evalloop.teams import flags
from evalloop.teams.models import Team

register = template.Library()

RECENT_DAYS = 7  # capped days the config page mentions

BADGES = {
    Decision.ADDED: ("added", "ok"),
    Decision.IN_LEDGER: ("taken before", ""),
    Decision.DISABLED: ("rule off", "warn"),
    Decision.BEFORE_START: ("before start", ""),
    Decision.NOT_COMPLETE: ("not complete", "warn"),
    Decision.FILTERED_OUT: ("filtered out", ""),
    Decision.SAMPLED_OUT: ("sampled out", ""),
    Decision.PENDING: ("next tick", "warn"),
    Decision.NO_TURNS: ("no turns", ""),
    Decision.MIXED: ("per turn", ""),
    Decision.UNDECIDED: ("undecided", "bad"),
}


def _on(team: Team) -> bool:
    return flags.is_active(team, flags.AUTO_POPULATE_DATASETS)


@register.filter
def decision_badge(decision: str) -> tuple[str, str]:
    """The decision's short label and pill class."""
    return BADGES.get(Decision(decision), (str(decision), ""))


@register.inclusion_tag("autopopulate/explain_panel.html")
def rules_explained(session: Session) -> dict[str, Any]:
    """Each rule watching the session's chatbot, with its decision for the session."""
    if not _on(session.team):
        return {"shown": False}
    watching = Rule.objects.filter(chatbot_id=session.chatbot_id, dataset__team_id=session.team_id)
    rules = list(watching.select_related("dataset").order_by("dataset__name", "id"))
    explained = list(zip(rules, explain_rules(rules=rules, session=session), strict=True))
    return {"shown": True, "session": session, "explained": explained}


@register.inclusion_tag("autopopulate/config_panel.html", takes_context=True)
def config_feeds(context: template.Context, config: Config) -> dict[str, Any]:
    """The rules feeding the config's dataset, and the rows its daily cap or interval held."""
    team = context["request"].team  # the page's team, the config's own
    on = _on(team)
    now = timezone.now()
    return {
        "config": config,
        "rules": _feeding(config) if on else None,
        "capped_days": _capped(config, now),
        "pending": _pending(config, now, on=on),
    }


def _feeding(config: Config) -> list[tuple[Rule, list[str]]]:
    """Each rule feeding the config's dataset, with its filter in words."""
    rules = Rule.objects.filter(dataset_id=config.dataset_id, dataset__team_id=config.team_id)
    rules = rules.select_related("chatbot").order_by("id")
    return [(rule, rule_filter(rule).describe()) for rule in rules]


def _capped(config: Config, now: datetime) -> list[CappedDay]:
    if not config.daily_row_cap:
        return []
    since = now.astimezone(UTC).date() - timedelta(days=RECENT_DAYS - 1)
    days = CappedDay.objects.filter(config=config, day__gte=since, rows__gt=0)
    return list(days.order_by("-day"))


def _pending(config: Config, now: datetime, *, on: bool) -> dict[str, Any] | None:
    """How many rows wait for the minimum interval, and after when they run (None: at the
    next tick); `held` while the team's auto-population is off, when no tick runs them."""
    if not config.auto_run_on_append:
        return None  # the next tick drops the rows of a config switched off
    count = PendingRow.objects.filter(config=config).count()
    if not count:
        return None
    after = _next_run_after(config)
    return {"rows": count, "after": after if after and after > now else None, "held": not on}


def _next_run_after(config: Config) -> datetime | None:
    """When the minimum interval since the config's last automatic run ends (None: now)."""
    if not config.min_minutes_between_runs:
        return None
    runs = Run.objects.filter(config=config, type=RunType.DELTA, trigger=Trigger.RULE)
    last = runs.order_by("-created_at").values_list("created_at", flat=True).first()
    return last + timedelta(minutes=config.min_minutes_between_runs) if last else None
