from django.contrib.auth import views as auth_views
from django.urls import path

from evalloop.teams import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("teams/new/", views.team_create, name="team-create"),
    path("teams/switch/", views.team_switch, name="team-switch"),
    path("settings/", views.settings_index, name="settings"),
    path("settings/members/", views.members, name="settings-members"),
    path("settings/members/<id:pk>/role/", views.member_role, name="settings-member-role"),
    path("settings/members/<id:pk>/remove/", views.member_remove, name="settings-member-remove"),
    path("settings/members/<id:pk>/link/", views.member_link, name="settings-member-link"),
    path("set-password/<str:token>/", views.set_password, name="set-password"),
    path("settings/api-keys/", views.api_keys, name="settings-api-keys"),
    path("settings/api-keys/<id:pk>/revoke/", views.api_key_revoke, name="settings-api-key-revoke"),
    path("settings/features/", views.features, name="settings-features"),
    path("settings/features/<str:name>/", views.feature_switch, name="settings-feature"),
]
