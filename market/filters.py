from __future__ import annotations

import django_filters
from django.db.models import Q

from market.models import PriceSnapshot, Product, ProductTier


class ProductFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="SKU, name or brand contains")
    tier = django_filters.ChoiceFilter(choices=ProductTier.choices)
    sku = django_filters.CharFilter(field_name="sku", lookup_expr="iexact")
    brand = django_filters.CharFilter(field_name="brand", lookup_expr="icontains")
    name = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Product
        fields = ["q", "tier", "sku", "brand", "name"]

    def search(self, queryset, name, value):
        return queryset.filter(
            Q(sku__icontains=value) | Q(name__icontains=value) | Q(brand__icontains=value)
        )


class SnapshotFilter(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="captured_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="captured_at", lookup_expr="lt")

    class Meta:
        model = PriceSnapshot
        fields = ["provider", "region", "size", "since", "until"]
