"""Owners adding and removing products, staff pinning tiers, on-demand syncs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from market.kinds import PRODUCT_KIND
from market.models import Product, ProductTier, ProviderLink, TierChange, Watch
from market.providers.registry import provider_configs
from syncing.plans import allowance_for, manual_sync_take
from syncing.services.dispatch import sync_now

FRESH_FOR = timedelta(minutes=5)


class AllowanceExceeded(Exception):
    """The owner's plan allows no more watched products."""


def product_create(sku: str, *, created_by=None, name: str = "", brand: str = "") -> Product:
    """A new product linked to every configured provider (ids resolved at its first sync)."""
    with transaction.atomic():
        product = Product.objects.create(
            sku=sku, name=name or sku, brand=brand, tier=ProductTier.WARM, created_by=created_by
        )
        ProviderLink.objects.bulk_create(
            [
                ProviderLink(
                    product=product,
                    provider=name_,
                    # A generic service is asked by SKU; StockX resolves its productId.
                    external_id="" if config.client == "stockx" else sku,
                )
                for name_, config in provider_configs().items()
            ]
        )
    return product


def watch_add(owner, sku: str, **alert) -> tuple[Watch, bool]:
    """Add the product ``sku`` to ``owner``'s watchlist (creating the product if new).

    Returns (watch, created). Raises AllowanceExceeded past the plan's item allowance.
    Runs the demand rules for the product (a watcher raises its tier) after commit.
    """
    sku = sku.strip().upper()
    existing = Watch.objects.filter(owner=owner, product__sku=sku).first()
    if existing:
        return existing, False
    allowance = allowance_for(owner).items
    if Watch.objects.filter(owner=owner).count() >= allowance:
        raise AllowanceExceeded(f"Your plan allows {allowance} watched product(s).")
    new_product = False
    with transaction.atomic():
        product = Product.objects.filter(sku=sku).first()
        if product is None:
            try:
                with transaction.atomic():
                    product = product_create(sku, created_by=owner)
                    new_product = True
            except IntegrityError:  # created by someone else a moment ago
                product = Product.objects.get(sku=sku)
        watch, created = Watch.objects.get_or_create(owner=owner, product=product, defaults=alert)
    if created:
        transaction.on_commit(lambda: _after_watch_added(product.pk, new_product), robust=True)
    return watch, created


def _after_watch_added(product_pk: int, new_product: bool) -> None:
    from market.services.demand import apply_demand_rules

    apply_demand_rules([product_pk])
    if new_product:
        sync_now(PRODUCT_KIND, product_pk)


def watch_remove(owner, product: Product) -> bool:
    deleted, _ = Watch.objects.filter(owner=owner, product=product).delete()
    return bool(deleted)


def tier_pin(product: Product, tier: str, *, by=None) -> TierChange | None:
    """Staff: put the product in ``tier`` and keep it there (demand rules skip it)."""
    with transaction.atomic():
        old = product.tier
        Product.objects.filter(pk=product.pk).update(tier=tier, tier_pinned=True)
        product.tier, product.tier_pinned = tier, True
        if old == tier:
            return None
        return TierChange.objects.create(
            product=product, from_tier=old, to_tier=tier, reason=f"pinned to {tier} by staff", by=by
        )


def tier_unpin(product: Product) -> None:
    Product.objects.filter(pk=product.pk).update(tier_pinned=False)
    product.tier_pinned = False


@dataclass(frozen=True)
class SyncRequest:
    """The answer to an on-demand sync: 200 (fresh), 202 (queued) or 429 (slow down)."""

    status: int
    last_synced_at: datetime | None = None
    retry_after: int | None = None
    queued: bool = False


def sync_request(owner, product: Product, *, now: datetime | None = None) -> SyncRequest:
    """On demand: fresh (a successful sync in the last 5 minutes; a failed one does not
    count) -> 200; past the owner's hourly allowance -> 429 with Retry-After; else the sync
    goes to the front of the queue (202)."""
    now = now or timezone.now()
    if product.last_success_at and now - product.last_success_at < FRESH_FOR:
        return SyncRequest(200, last_synced_at=product.last_synced_at)
    allowed, retry_after = manual_sync_take(owner)
    if not allowed:
        return SyncRequest(429, last_synced_at=product.last_synced_at, retry_after=retry_after)
    queued = sync_now(PRODUCT_KIND, product.pk, force=True)
    return SyncRequest(202, last_synced_at=product.last_synced_at, queued=queued)
