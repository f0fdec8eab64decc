"""Included under /api/v1/ by syncing/api_urls.py."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from syncing.webhooks.api import WebhookDeliveryViewSet, WebhookEndpointViewSet

router = SimpleRouter()
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

deliveries = WebhookDeliveryViewSet.as_view({"get": "list"})
delivery = WebhookDeliveryViewSet.as_view({"get": "retrieve"})
replay = WebhookDeliveryViewSet.as_view({"post": "replay"})

urlpatterns = [
    *router.urls,
    path("webhooks/<int:endpoint_pk>/deliveries/", deliveries, name="webhook-delivery-list"),
    path(
        "webhooks/<int:endpoint_pk>/deliveries/<int:pk>/", delivery, name="webhook-delivery-detail"
    ),
    path(
        "webhooks/<int:endpoint_pk>/deliveries/<int:pk>/replay/",
        replay,
        name="webhook-delivery-replay",
    ),
]
