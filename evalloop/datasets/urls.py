from django.urls import path

from evalloop.datasets import views

app_name = "datasets"
urlpatterns = [
    path("", views.index, name="dataset-list"),
]
