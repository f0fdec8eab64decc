"""/api/v1/webhooks/: an owner's endpoints, their deliveries, and replays. Another owner's
endpoint or delivery is a 404."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from syncing.api import OwnerScopedMixin
from syncing.webhooks import services
from syncing.webhooks.models import WebhookDelivery, WebhookEndpoint
from syncing.webhooks.serializers import (
    WebhookDeliverySerializer,
    WebhookEndpointCreatedSerializer,
    WebhookEndpointSerializer,
)


class WebhookEndpointViewSet(OwnerScopedMixin, viewsets.ModelViewSet):
    """Webhook endpoints of the requesting owner. The secret is shown once, on create."""

    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer

    @extend_schema(responses={201: WebhookEndpointCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            endpoint = services.endpoint_create(
                request.user,
                url=serializer.validated_data["url"],
                events=serializer.validated_data["events"],
                description=serializer.validated_data.get("description", ""),
            )
        except services.EndpointLimitReached as exc:
            raise ValidationError({"non_field_errors": [str(exc)]})
        return Response(
            WebhookEndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED
        )

    def perform_update(self, serializer):
        endpoint = serializer.save()
        if serializer.validated_data.get("enabled") and endpoint.disabled_reason:
            services.endpoint_enable(endpoint)

    @extend_schema(request=None, responses={200: WebhookEndpointCreatedSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        """Replace the signing secret; the new one is shown in this answer only."""
        endpoint = self.get_object()
        services.endpoint_rotate_secret(endpoint)
        return Response(WebhookEndpointCreatedSerializer(endpoint).data)


class WebhookDeliveryViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Deliveries of one of the owner's endpoints, newest first, with their responses."""

    serializer_class = WebhookDeliverySerializer
    queryset = WebhookDelivery.objects.all()

    def get_queryset(self):
        endpoint = get_object_or_404(
            WebhookEndpoint, pk=self.kwargs["endpoint_pk"], owner=self.request.user
        )
        return WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-pk")

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def replay(self, request, endpoint_pk=None, pk=None):
        """Send this delivery's event again, as a new delivery with the same event id."""
        delivery = self.get_object()
        if not delivery.endpoint.enabled:
            return Response(
                {"detail": "The endpoint is disabled; enable it first."},
                status=status.HTTP_409_CONFLICT,
            )
        replay = services.delivery_replay(delivery)
        return Response(WebhookDeliverySerializer(replay).data, status=status.HTTP_202_ACCEPTED)
