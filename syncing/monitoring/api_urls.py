"""Included under /api/v1/ by syncing/api_urls.py."""

from django.urls import path

from syncing.monitoring.api import FreshnessView, OwnerStatusView

urlpatterns = [
    path("sync/status/", OwnerStatusView.as_view(), name="sync-status"),
    path("sync/freshness/", FreshnessView.as_view(), name="sync-freshness"),
]
