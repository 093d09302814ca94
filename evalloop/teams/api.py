from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from evalloop.api.auth import api_team

router = Router(tags=["team"])


class TeamOut(Schema):
    slug: str
    name: str


@router.get("/team", response=TeamOut, summary="The API key's team")
def get_team(request: HttpRequest) -> TeamOut:
    team = api_team(request)
    return TeamOut(slug=team.slug, name=team.name)
