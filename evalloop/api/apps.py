from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "evalloop.api"
    label = "api"
