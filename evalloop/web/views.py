from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from evalloop.teams.decorators import team_view


@team_view()
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html")
