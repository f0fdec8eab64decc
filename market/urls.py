from django.urls import path

from market import views

app_name = "market"
urlpatterns = [
    path("", views.index, name="index"),
    path("watches/<int:pk>/alert/", views.watch_edit, name="watch_edit"),
    path("watches/<int:pk>/delete/", views.watch_delete, name="watch_delete"),
    path("watches/<int:pk>/sync/", views.watch_sync, name="watch_sync"),
    path("watches/<int:pk>/row/", views.watch_row, name="watch_row"),
    path("watches/<int:pk>/resume/", views.watch_resume, name="watch_resume"),
    path("alerts/seen/", views.alerts_seen, name="alerts_seen"),
]
