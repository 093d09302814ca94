from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from evalloop.teams.decorators import team_view


@team_view()
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "web/placeholder.html", {"title": "Datasets"})
