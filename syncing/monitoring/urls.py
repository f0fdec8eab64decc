"""Page routes; config/urls.py includes these before ``admin/`` (see the names)."""

from django.urls import path

from syncing.monitoring import views

urlpatterns = [
    path("admin/syncing/dashboard/", views.sync_dashboard, name="sync-dashboard"),
    path("metrics", views.metrics, name="metrics"),
    path("status/", views.owner_status, name="owner-status"),
    path("status/resume/", views.owner_status_resume, name="owner-status-resume"),
]
