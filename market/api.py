"""The market REST API: products (scoped to the owner's watchlist), history, watches, sync."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.filters import SearchFilter
from rest_framework.response import Response

from market.filters import ProductFilter, SnapshotFilter
from market.models import PriceSnapshot, Product, Watch
from market.selectors import owner_products
from market.serializers import (
    PriceSerializer,
    ProductAddSerializer,
    ProductDetailSerializer,
    ProductSerializer,
    WatchSerializer,
)
from market.services.products import AllowanceExceeded, sync_request, watch_add, watch_remove
from syncing.api import OwnerScopedMixin


class ProductViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Products on my watchlist. POST adds one by SKU; DELETE takes it off my watchlist.

    A product nobody on this account watches is a 404, like an unknown SKU.
    """

    lookup_field = "sku"
    lookup_value_regex = r"[^/]+"
    filterset_class = ProductFilter
    search_fields = ["sku", "name", "brand"]
    queryset = Product.objects.none()

    def get_queryset(self):
        return owner_products(self.request.user).prefetch_related("provider_links").order_by("sku")

    def get_serializer_class(self):
        if self.action == "create":
            return ProductAddSerializer
        if self.action == "retrieve":
            return ProductDetailSerializer
        return ProductSerializer

    def get_object(self):
        return get_object_or_404(self.get_queryset(), sku__iexact=self.kwargs["sku"])

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if "search" in self.request.query_params:
            queryset = SearchFilter().filter_queryset(self.request, queryset, self)
        return queryset

    @extend_schema(request=ProductAddSerializer, responses={201: ProductSerializer})
    def create(self, request, *args, **kwargs):
        data = ProductAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        sku = fields.pop("sku")
        try:
            watch, created = watch_add(request.user, sku, **fields)
        except AllowanceExceeded as exc:
            raise ValidationError({"sku": [str(exc)]})
        product = self.get_queryset().get(pk=watch.product_id)
        body = ProductSerializer(product, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def perform_destroy(self, instance: Product) -> None:
        watch_remove(self.request.user, instance)

    @extend_schema(
        responses={200: PriceSerializer(many=True)},
        parameters=[
            OpenApiParameter("provider", str),
            OpenApiParameter("region", str),
            OpenApiParameter("size", str),
            OpenApiParameter("since", OpenApiTypes.DATETIME),
        ],
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def history(self, request, sku=None):
        """Price snapshots of the product, newest first (?provider ?region ?size ?since)."""
        product = self.get_object()
        qs = PriceSnapshot.objects.filter(product=product).order_by(
            "-captured_at", "provider", "region", "size"
        )
        qs = SnapshotFilter(request.query_params, queryset=qs).qs
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(PriceSerializer(page, many=True).data)

    @extend_schema(request=None, responses={200: None, 202: None, 429: None})
    @action(detail=True, methods=["post"], filterset_class=None)
    def sync(self, request, sku=None):
        """Sync now: 200 if synced in the last 5 minutes, else 202 (front of the queue);
        429 with Retry-After past the plan's manual syncs per hour."""
        product = self.get_object()
        outcome = sync_request(request.user, product)
        body = {
            "sku": product.sku,
            "last_synced_at": outcome.last_synced_at,
        }
        headers = {}
        if outcome.status == 200:
            body["detail"] = "Synced in the last 5 minutes."
        elif outcome.status == 202:
            body["detail"] = "Sync queued." if outcome.queued else "A sync is already running."
        else:
            body["detail"] = "Too many manual syncs; try again later."
            headers["Retry-After"] = str(outcome.retry_after)
        return Response(body, status=outcome.status, headers=headers)


class WatchViewSet(OwnerScopedMixin, viewsets.ModelViewSet):
    """My watches: alert thresholds per product (percent or price, below/above/either)."""

    queryset = Watch.objects.select_related("product").order_by("product__sku")
    serializer_class = WatchSerializer
    filterset_fields = ["crossed", "direction"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        product = data.pop("product")
        try:
            watch, created = watch_add(self.request.user, product.sku, **data)
        except AllowanceExceeded as exc:
            raise ValidationError({"product": [str(exc)]})
        if not created:
            raise ValidationError({"product": ["You already watch this product."]})
        serializer.instance = watch

    def perform_update(self, serializer):
        # A new threshold starts a new baseline and re-arms the alert.
        serializer.save(baseline_price=None, crossed=False)
