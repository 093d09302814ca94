from django.apps import AppConfig
from django.urls import register_converter


class WebConfig(AppConfig):
    name = "evalloop.web"
    label = "web"

    def ready(self) -> None:
        from evalloop.web.converters import IdConverter

        register_converter(IdConverter, "id")
