from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "evalloop.runs"
    label = "runs"
