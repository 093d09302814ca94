from django.urls import path

from evalloop.evaluators.views import evaluators, providers

app_name = "evaluators"

urlpatterns = [
    # evaluators (views/evaluators.py)
    path("evaluators/", evaluators.evaluator_list, name="evaluator-list"),
    path("evaluators/new/", evaluators.evaluator_create, name="evaluator-create"),
    path("evaluators/<id:pk>/", evaluators.evaluator_detail, name="evaluator-detail"),
    path("evaluators/<id:pk>/edit/", evaluators.evaluator_edit, name="evaluator-edit"),
    path("evaluators/<id:pk>/delete/", evaluators.evaluator_delete, name="evaluator-delete"),
    path("evaluators/<id:pk>/test/", evaluators.evaluator_test, name="evaluator-test"),
    # providers, under settings (views/providers.py)
    path("settings/providers/", providers.provider_list, name="providers"),
    path("settings/providers/<id:pk>/edit/", providers.provider_edit, name="provider-edit"),
    path("settings/providers/<id:pk>/delete/", providers.provider_delete, name="provider-delete"),
]
