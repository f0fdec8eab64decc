from django.urls import path

from alarms import views

app_name = "alarms"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.alarm_create, name="create"),
    path("<int:pk>/edit/", views.alarm_edit, name="edit"),
    path("<int:pk>/delete/", views.alarm_delete, name="delete"),
    path("<int:pk>/row/", views.alarm_row, name="row"),
    path("<int:pk>/resume/", views.alarm_resume, name="resume"),
    path("audio/<str:token>/", views.AudioView.as_view(), name="audio"),
]
