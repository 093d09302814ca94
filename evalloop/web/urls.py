from django.urls import path

from evalloop.web import views

urlpatterns = [
    path("", views.home, name="home"),
]
