from django.urls import URLPattern, URLResolver

app_name = "filters"
urlpatterns: list[URLPattern | URLResolver] = []
