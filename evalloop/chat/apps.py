from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "evalloop.chat"
    label = "chat"
