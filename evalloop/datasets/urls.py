from django.urls import path

from evalloop.datasets import views

app_name = "datasets"
urlpatterns = [
    path("", views.dataset_list, name="dataset-list"),
    # Target of the sessions list's "Add to dataset" form.
    path("add-sessions/", views.add_sessions, name="add-sessions"),
    path("<int:pk>/", views.dataset_detail, name="dataset-detail"),
    path("<int:pk>/edit/", views.dataset_edit, name="dataset-edit"),
    path("<int:pk>/delete/", views.dataset_delete, name="dataset-delete"),
    path("<int:pk>/rows/new/", views.row_create, name="row-create"),
    path("<int:pk>/rows/<int:row_pk>/", views.row_edit, name="row-edit"),
    path("<int:pk>/rows/<int:row_pk>/delete/", views.row_delete, name="row-delete"),
    path("<int:pk>/import/", views.import_matching, name="import"),
    path("<int:pk>/copy/", views.copy_rows, name="copy"),
    path("<int:pk>/csv/", views.csv_download, name="csv-download"),
    path("<int:pk>/csv/upload/", views.csv_upload, name="csv-upload"),
    path("<int:pk>/jobs/<int:job_pk>/", views.job_progress, name="job"),
]
