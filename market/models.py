"""Market data: products by SKU, their provider links, price snapshots, watches and alerts.

Amounts are Decimal with their currency (three letters) and never floats. A product is
global (one row per SKU, shared by every owner who watches it); an owner "adds" a product
by creating a Watch. The product's ``tier`` (hot, warm, cold, frozen) is the engine's tier:
demand rules (market.services.demand) move it, staff may pin it.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import models
from django.utils import timezone

from syncing.models import SyncedItem


class ProductTier(models.TextChoices):
    HOT = "hot", "Hot (hourly)"
    WARM = "warm", "Warm (every 6 hours)"
    COLD = "cold", "Cold (daily)"
    FROZEN = "frozen", "Frozen (on demand)"


# From the most to the least often synced.
TIER_ORDER = [ProductTier.HOT, ProductTier.WARM, ProductTier.COLD, ProductTier.FROZEN]


class Region(models.TextChoices):
    US = "US", "United States"
    EU = "EU", "Europe"
    UK = "UK", "United Kingdom"
    JP = "JP", "Japan"


REGION_CURRENCY = {"US": "USD", "EU": "EUR", "UK": "GBP", "JP": "JPY"}

MONEY = {"max_digits": 12, "decimal_places": 2}


class Product(SyncedItem):
    """A resale product by SKU; synced from every provider it is linked to."""

    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200, blank=True, default="")
    brand = models.CharField(max_length=100, blank=True, default="")
    colorway = models.CharField(max_length=200, blank=True, default="")
    image_url = models.URLField(max_length=500, blank=True, default="")
    tier_pinned = models.BooleanField(
        default=False, help_text="Pinned: demand rules leave the tier alone."
    )
    primary_region = models.CharField(max_length=2, choices=Region.choices, default=Region.US)
    # Products have no single owner; attempts are attributed to whoever added it first.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta(SyncedItem.Meta):
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}".strip()

    @property
    def display_name(self) -> str:
        """The brand once ("Nike SB Dunk Low", not "Nike Nike SB Dunk Low"); else the SKU."""
        name, brand = self.name.strip(), self.brand.strip()
        if not name:
            return brand or self.sku
        # Named in the name already, as whole words ("New Balance 2002R", "Air Jordan 1").
        if not brand or re.search(rf"(?<!\w){re.escape(brand)}(?!\w)", name, re.IGNORECASE):
            return name
        return f"{brand} {name}"


class ProviderLink(models.Model):
    """Where a product lives at one provider: its id there and its per-size variant ids."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="provider_links")
    provider = models.CharField(max_length=32)
    external_id = models.CharField(
        max_length=128, blank=True, default="", help_text="Empty: resolved from the SKU."
    )
    variant_ids = models.JSONField(default=dict, blank=True, help_text="size -> variant id")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product", "provider"], name="market_link_unique")
        ]
        ordering = ["provider"]

    def __str__(self) -> str:
        return f"{self.product.sku}@{self.provider}:{self.external_id}"


class PriceSnapshot(models.Model):
    """One provider's prices for one size in one region at one sync."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="snapshots")
    provider = models.CharField(max_length=32)
    region = models.CharField(max_length=2, choices=Region.choices)
    size = models.CharField(max_length=16)
    currency = models.CharField(max_length=3)
    lowest_ask = models.DecimalField(null=True, blank=True, **MONEY)
    highest_bid = models.DecimalField(null=True, blank=True, **MONEY)
    last_sale = models.DecimalField(null=True, blank=True, **MONEY)
    sales_72h = models.PositiveIntegerField(null=True, blank=True)
    captured_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["product", "provider", "region", "size", "captured_at"],
                name="market_snapshot_unique",
            )
        ]
        indexes = [
            models.Index(
                fields=["product", "provider", "region", "size", "-captured_at"],
                name="market_snapshot_latest",
            ),
            models.Index(fields=["product", "-captured_at"], name="market_snapshot_recent"),
        ]
        ordering = ["-captured_at"]

    def __str__(self) -> str:
        return f"{self.product_id} {self.provider} {self.region} {self.size} {self.captured_at}"


class Direction(models.TextChoices):
    BELOW = "below", "Falls below"
    ABOVE = "above", "Rises above"
    EITHER = "either", "Moves either way"


class Watch(models.Model):
    """An owner's interest in a product, with an optional price alert.

    The price watched is the lowest ask in ``region`` (the product's primary region when
    empty) across providers, for ``size`` (any size when empty). ``threshold_price`` is
    an absolute level; ``threshold_percent`` a move from ``baseline_price`` (the first
    price seen after the watch was set). ``crossed`` is true while the price is past the
    threshold: the owner is told once per crossing, and the watch re-arms when the price
    comes back.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="market_watches"
    )
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="watches")
    threshold_percent = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    threshold_price = models.DecimalField(null=True, blank=True, **MONEY)
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.BELOW)
    region = models.CharField(max_length=2, choices=Region.choices, blank=True, default="")
    size = models.CharField(max_length=16, blank=True, default="")
    baseline_price = models.DecimalField(null=True, blank=True, **MONEY)
    last_price = models.DecimalField(null=True, blank=True, **MONEY)
    last_notified_price = models.DecimalField(null=True, blank=True, **MONEY)
    crossed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "watches"
        constraints = [
            models.UniqueConstraint(fields=["owner", "product"], name="market_watch_unique")
        ]
        ordering = ["product__sku"]

    def __str__(self) -> str:
        return f"{self.owner} watches {self.product.sku}"

    @property
    def watched_region(self) -> str:
        return self.region or self.product.primary_region

    @property
    def has_alert(self) -> bool:
        return self.threshold_price is not None or self.threshold_percent is not None


class WatchAlert(models.Model):
    """A threshold crossing, shown on the owner's dashboard until seen."""

    watch = models.ForeignKey(Watch, on_delete=models.CASCADE, related_name="alerts")
    price = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    message = models.CharField(max_length=300)
    crossed_at = models.DateTimeField(default=timezone.now)
    seen = models.BooleanField(default=False)

    class Meta:
        ordering = ["-crossed_at"]
        indexes = [models.Index(fields=["watch", "seen"], name="market_alert_watch_seen")]

    def __str__(self) -> str:
        return self.message


class TierChange(models.Model):
    """A product moved between tiers: by the demand rules (``by`` empty) or by staff."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.CharField(max_length=16)
    to_tier = models.CharField(max_length=16)
    reason = models.CharField(max_length=300)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["product", "-at"], name="market_tierchange_product")]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.from_tier} -> {self.to_tier} ({self.reason})"
