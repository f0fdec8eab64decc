"""The market API's shapes: amounts are strings with two decimals, beside their currency."""

from __future__ import annotations

from rest_framework import serializers

from market.models import MONEY, Direction, PriceSnapshot, Product, ProviderLink, Region, Watch
from syncing.serializers import SyncedItemStatusMixin


def money_field(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(coerce_to_string=True, **MONEY, **kwargs)


class ProviderLinkSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProviderLink
        fields = ["provider", "external_id"]
        read_only_fields = fields


class PriceSerializer(serializers.ModelSerializer):
    lowest_ask = money_field(read_only=True)
    highest_bid = money_field(read_only=True)
    last_sale = money_field(read_only=True)

    class Meta:
        model = PriceSnapshot
        fields = [
            "provider",
            "region",
            "size",
            "currency",
            "lowest_ask",
            "highest_bid",
            "last_sale",
            "sales_72h",
            "captured_at",
        ]
        read_only_fields = fields


class ProductSerializer(SyncedItemStatusMixin, serializers.ModelSerializer):
    provider_links = ProviderLinkSerializer(many=True, read_only=True)

    class Meta:
        model = Product
        fields = [
            "sku",
            "name",
            "brand",
            "colorway",
            "image_url",
            "primary_region",
            "provider_links",
            *SyncedItemStatusMixin.SYNC_STATUS_FIELDS,
        ]
        read_only_fields = fields


class ProductDetailSerializer(ProductSerializer):
    prices = serializers.SerializerMethodField()

    class Meta(ProductSerializer.Meta):
        fields = [*ProductSerializer.Meta.fields, "prices"]
        read_only_fields = fields

    def get_prices(self, product: Product) -> list[dict]:
        from market.selectors import latest_prices

        return PriceSerializer(latest_prices(product), many=True).data


class WatchFieldsMixin(serializers.Serializer):
    threshold_percent = serializers.DecimalField(
        max_digits=6, decimal_places=2, required=False, allow_null=True, min_value=0
    )
    threshold_price = money_field(required=False, allow_null=True, min_value=0)
    direction = serializers.ChoiceField(choices=Direction.choices, required=False)
    region = serializers.ChoiceField(choices=Region.choices, required=False, allow_blank=True)
    size = serializers.CharField(max_length=16, required=False, allow_blank=True)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs.get("threshold_percent") is not None and attrs.get("threshold_price") is not None:
            raise serializers.ValidationError("Set a threshold in percent or a price, not both.")
        return attrs


class ProductAddSerializer(WatchFieldsMixin):
    """POST /products/: add a product by SKU to my watchlist (optionally with an alert)."""

    sku = serializers.RegexField(
        r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$",
        max_length=64,
        error_messages={
            "invalid": "A SKU has letters, digits, dots, dashes and underscores only, "
            "and starts with a letter or a digit.",
            "max_length": "A SKU has at most 64 characters.",
        },
    )


class WatchSerializer(WatchFieldsMixin, serializers.ModelSerializer):
    product = serializers.SlugRelatedField(slug_field="sku", queryset=Product.objects.all())
    baseline_price = money_field(read_only=True)
    last_price = money_field(read_only=True)
    last_notified_price = money_field(read_only=True)

    class Meta:
        model = Watch
        fields = [
            "id",
            "product",
            "threshold_percent",
            "threshold_price",
            "direction",
            "region",
            "size",
            "baseline_price",
            "last_price",
            "last_notified_price",
            "crossed",
            "created_at",
        ]
        read_only_fields = ["id", "crossed", "created_at"]

    def validate_product(self, product: Product) -> Product:
        if self.instance is not None and product != self.instance.product:
            raise serializers.ValidationError("A watch cannot move to another product.")
        return product
