from django.urls import path

from evalloop.evaluators.views import providers

app_name = "evaluators"

urlpatterns: list = [
    # evaluators (views/evaluators.py)
    # providers, under settings (views/providers.py)
    path("settings/providers/", providers.provider_list, name="providers"),
    path("settings/providers/<id:pk>/edit/", providers.provider_edit, name="provider-edit"),
    path("settings/providers/<id:pk>/delete/", providers.provider_delete, name="provider-delete"),
]
