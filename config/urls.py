from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from evalloop.api.urls import api
from evalloop.web.health import health

urlpatterns = [
    path("api/v1/", api.urls),
    path("health/", health, name="health"),
    path("", include("evalloop.teams.urls")),
    path("notifications/", include("evalloop.notifications.urls")),
    path("chatbots/", include("evalloop.chat.urls")),
    path("datasets/", include("evalloop.datasets.urls")),
    path("datasets/", include("evalloop.autopopulate.urls")),
    path("filters/", include("evalloop.filters.urls")),
    path("", include("evalloop.evaluators.urls")),
    path("", include("evalloop.runs.urls")),
    path("", include("evalloop.web.urls")),
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
]
