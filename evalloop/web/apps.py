from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "evalloop.web"
    label = "web"
