"""The engine's REST endpoints: attempts and tiers for integrators, API login."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from knox.views import LoginView as KnoxLoginView
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import IsAuthenticated

from syncing.login import ThrottledBasicAuthentication
from syncing.models import SyncAttempt, Tier
from syncing.serializers import SyncAttemptSerializer, TierSerializer
from syncing.token_auth import TokenAuthentication


class OwnerScopedMixin:
    """Every queryset filtered by the requesting owner: another owner's object is a 404."""

    owner_field = "owner"

    def get_queryset(self):
        return super().get_queryset().filter(**{self.owner_field: self.request.user})


class AttemptFilter(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = SyncAttempt
        fields = ["kind", "item_id", "outcome", "reason", "tier"]


class SyncAttemptViewSet(OwnerScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Sync attempts of the owner's items, newest first."""

    queryset = SyncAttempt.objects.order_by("-started_at")
    serializer_class = SyncAttemptSerializer
    filterset_class = AttemptFilter


class TierViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The sync tiers: how often each kind of item syncs."""

    queryset = Tier.objects.order_by("kind", "interval")
    serializer_class = TierSerializer
    filterset_fields = ["kind", "enabled"]


@extend_schema_view(
    post=extend_schema(
        request=None,
        responses=inline_serializer(
            "ApiToken",
            {"expiry": serializers.DateTimeField(), "token": serializers.CharField()},
        ),
    )
)
class ApiLoginView(KnoxLoginView):
    """Exchange an email and password (HTTP Basic) for an API token."""

    authentication_classes = [ThrottledBasicAuthentication]
    permission_classes = [IsAuthenticated]


@extend_schema_view(post=extend_schema(request=None, responses={204: None}))
class ApiLogoutView(KnoxLogoutView):
    """Revoke the token this request authenticates with."""

    authentication_classes = [TokenAuthentication]  # knox's, as every API view reads it
