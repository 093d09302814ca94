from django.urls import path

from evalloop.datasets import views

app_name = "datasets"
urlpatterns = [
    path("", views.index, name="dataset-list"),
    # Target of the sessions list's "Add to dataset" form (see the datasets views).
    path("add-sessions/", views.index, name="add-sessions"),
]
