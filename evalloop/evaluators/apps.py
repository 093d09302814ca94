from django.apps import AppConfig


class EvaluatorsConfig(AppConfig):
    name = "evalloop.evaluators"
    label = "evaluators"
