from django.contrib.auth import views as auth_views
from django.urls import path

from evalloop.teams import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("teams/new/", views.team_create, name="team-create"),
    path("teams/switch/", views.team_switch, name="team-switch"),
    path("settings/", views.settings_index, name="settings"),
]
