from django.urls import path
from django.views.generic import RedirectView

from evalloop.chat import views

app_name = "chat"
urlpatterns = [
    path("", views.chatbot_list, name="chatbot-list"),
    path(
        "<slug:slug>/",
        RedirectView.as_view(pattern_name="chat:session-list", query_string=True),
    ),
    path("<slug:slug>/sessions/", views.session_list, name="session-list"),
    path("<slug:slug>/import/", views.log_upload, name="log-import"),
    path("<slug:slug>/sessions/<id:pk>/", views.transcript, name="transcript"),
    path("<slug:slug>/sessions/<id:pk>/tags/", views.session_tags, name="session-tags"),
    path(
        "<slug:slug>/sessions/<id:pk>/messages/<id:message_pk>/tags/",
        views.message_tags,
        name="message-tags",
    ),
]
