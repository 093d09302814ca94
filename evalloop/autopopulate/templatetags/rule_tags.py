"""The dataset page's rules section, rendered by this app so the datasets app never imports it."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from evalloop.autopopulate.views.section import SECTION, section_context
from evalloop.datasets.models import Dataset
from evalloop.teams import flags

register = template.Library()


@register.simple_tag(takes_context=True)
def rules_section(context: template.Context, dataset: Dataset) -> SafeString | str:
    """The section, or nothing while the team's auto-population flag is off."""
    # The page's team is the dataset's (it was fetched within it), and costs no query.
    team = context.get("current_team") or dataset.team
    if not flags.is_active(team, flags.AUTO_POPULATE_DATASETS):
        return ""
    may_edit: Any = context.get("may_edit", False)
    request = context.get("request")
    return render_to_string(
        SECTION, section_context(dataset, may_edit=bool(may_edit)), request=request
    )
