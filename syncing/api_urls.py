from django.urls import include, path
from rest_framework.routers import SimpleRouter

from syncing.api import ApiLoginView, ApiLogoutView, SyncAttemptViewSet, TierViewSet

router = SimpleRouter()
router.register("sync/attempts", SyncAttemptViewSet, basename="sync-attempt")
router.register("sync/tiers", TierViewSet, basename="sync-tier")

urlpatterns = [
    path("auth/login/", ApiLoginView.as_view(), name="api-login"),
    path("auth/logout/", ApiLogoutView.as_view(), name="api-logout"),
    path("", include("syncing.monitoring.api_urls")),
    path("", include("syncing.webhooks.api_urls")),
    *router.urls,
]
