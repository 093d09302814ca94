from django.urls import path

from evalloop.datasets import views

app_name = "datasets"
urlpatterns = [
    path("", views.dataset_list, name="dataset-list"),
    # Target of the sessions list's "Add to dataset" form.
    path("add-sessions/", views.add_sessions, name="add-sessions"),
    path("<id:pk>/", views.dataset_detail, name="dataset-detail"),
    path("<id:pk>/edit/", views.dataset_edit, name="dataset-edit"),
    path("<id:pk>/delete/", views.dataset_delete, name="dataset-delete"),
    path("<id:pk>/rows/new/", views.row_create, name="row-create"),
    path("<id:pk>/rows/<id:row_pk>/", views.row_detail, name="row-detail"),
    path("<id:pk>/rows/<id:row_pk>/edit/", views.row_edit, name="row-edit"),
    path("<id:pk>/rows/<id:row_pk>/delete/", views.row_delete, name="row-delete"),
    path("<id:pk>/import/", views.import_matching, name="import"),
    path("<id:pk>/copy/", views.copy_rows, name="copy"),
    path("<id:pk>/csv/", views.csv_download, name="csv-download"),
    path("<id:pk>/csv/upload/", views.csv_upload, name="csv-upload"),
    path("<id:pk>/jobs/<id:job_pk>/", views.job_progress, name="job"),
]
