from django.apps import AppConfig


class FiltersConfig(AppConfig):
    name = "evalloop.filters"
    label = "filters"
