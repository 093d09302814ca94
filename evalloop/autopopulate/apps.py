from django.apps import AppConfig


class AutopopulateConfig(AppConfig):
    name = "evalloop.autopopulate"
    label = "autopopulate"
