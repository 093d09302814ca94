from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "evalloop.notifications"
    label = "notifications"
