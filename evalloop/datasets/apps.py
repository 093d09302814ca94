from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "evalloop.datasets"
    label = "datasets"
