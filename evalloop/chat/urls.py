from django.urls import path

from evalloop.chat import views

app_name = "chat"
urlpatterns = [
    path("", views.index, name="chatbot-list"),
]
