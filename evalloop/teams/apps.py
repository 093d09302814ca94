from django.apps import AppConfig


class TeamsConfig(AppConfig):
    name = "evalloop.teams"
    label = "teams"
