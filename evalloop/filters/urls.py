from django.urls import URLPattern, URLResolver, path

from evalloop.filters import views

app_name = "filters"
urlpatterns: list[URLPattern | URLResolver] = [
    path("clause-form/", views.clause_form, name="clause-form"),
]
