from django.urls import path  # noqa: F401

app_name = "evaluators"

urlpatterns: list = [
    # evaluators (views/evaluators.py)
    # providers, under settings (views/providers.py)
]
