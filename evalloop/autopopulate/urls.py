"""Rule pages, under their dataset: mounted at /datasets/ beside the datasets app's own."""

from django.urls import path

from evalloop.autopopulate.views import detail, form, section

app_name = "autopopulate"
RULE = "<id:pk>/rules/<id:rule_pk>/"

urlpatterns = [
    path("<id:pk>/rules/", section.rules_section, name="rules-section"),
    path("<id:pk>/rules/new/", form.rule_create, name="rule-create"),
    path("<id:pk>/rules/preview/", form.rule_preview, name="rule-preview-new"),
    path(RULE, detail.rule_detail, name="rule-detail"),
    path(RULE + "edit/", form.rule_edit, name="rule-edit"),
    path(RULE + "preview/", form.rule_preview, name="rule-preview"),
    path(RULE + "enabled/", section.rule_enabled, name="rule-enabled"),
    path(RULE + "delete/", section.rule_delete, name="rule-delete"),
    path(RULE + "run/", detail.rule_run, name="rule-run"),
]
