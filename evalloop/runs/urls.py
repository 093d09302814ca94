from django.urls import path

from evalloop.runs.views import configs, runs, trends

app_name = "runs"
urlpatterns = [
    path("configs/", configs.config_list, name="config-list"),
    path("configs/new/", configs.config_create, name="config-create"),
    path("configs/<id:pk>/", configs.config_detail, name="config-detail"),
    path("configs/<id:pk>/edit/", configs.config_edit, name="config-edit"),
    path("configs/<id:pk>/delete/", configs.config_delete, name="config-delete"),
    path("configs/<id:pk>/runs/", runs.run_start, name="run-start"),
    path("configs/<id:pk>/trend/", trends.config_trend, name="config-trend"),
    path("runs/<id:pk>/", runs.run_detail, name="run-detail"),
    path("runs/<id:pk>/cancel/", runs.run_cancel, name="run-cancel"),
    path("runs/<id:pk>/rerun-failed/", runs.run_rerun_failed, name="run-rerun-failed"),
    path("runs/<id:pk>/csv/", runs.run_csv, name="run-csv"),
]
