"""Tier selection: the engine claims due products per tier, oldest first; frozen on demand."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from market.kinds import PRODUCT_KIND
from market.models import Product
from syncing.kinds import get_kind
from syncing.models import Tier
from syncing.services.claims import claim_due_items
from syncing.services.dispatch import dispatch_tier, sync_now

pytestmark = pytest.mark.django_db


def products(n, *, tier, due, step=timedelta(minutes=1), prefix="P"):
    return Product.objects.bulk_create(
        [
            Product(sku=f"{prefix}{tier}{i}", tier=tier, next_sync_at=due + step * i)
            for i in range(n)
        ]
    )


def test_the_default_tiers_come_from_the_seed_figures():
    tiers = {t.name: t for t in Tier.objects.filter(kind=PRODUCT_KIND)}
    # Hot: every hour, kept under an hour old (55 min interval, dispatched every minute).
    assert tiers["hot"].interval == timedelta(minutes=55) and tiers["hot"].batch_limit == 20
    assert tiers["hot"].dispatch_period == timedelta(minutes=1)
    assert tiers["warm"].interval == timedelta(hours=6) and tiers["warm"].batch_limit == 50
    assert tiers["cold"].interval == timedelta(hours=24) and tiers["cold"].batch_limit == 100
    assert tiers["frozen"].interval is None
    # Beat runs dispatch for hot, warm and cold; frozen has no periodic task at all.
    names = set(
        PeriodicTask.objects.filter(name__contains=PRODUCT_KIND).values_list("name", flat=True)
    )
    assert names == {f"syncing.dispatch {PRODUCT_KIND} {t}" for t in ("hot", "warm", "cold")}


def test_dispatch_claims_the_hot_tiers_batch_oldest_due_first():
    now = timezone.now()
    hot = products(25, tier="hot", due=now - timedelta(hours=2))
    products(5, tier="hot", due=now + timedelta(minutes=10), prefix="LATER")  # not due
    products(30, tier="warm", due=now - timedelta(days=1))

    report = dispatch_tier(PRODUCT_KIND, "hot")

    assert report.claimed == 20  # the tier's batch limit
    leased = set(Product.objects.filter(lease_token__isnull=False).values_list("pk", flat=True))
    assert leased == {p.pk for p in hot[:20]}  # the 20 oldest due, none of another tier
    assert report.messages == 2  # chunks of 10 on the io queue


def test_never_synced_products_come_first_because_they_are_due_since_creation():
    now = timezone.now()
    synced = products(3, tier="warm", due=now - timedelta(minutes=5), prefix="OLD")
    Product.objects.filter(pk__in=[p.pk for p in synced]).update(last_synced_at=now)
    fresh = Product.objects.create(sku="NEW-1", tier="warm", next_sync_at=now - timedelta(hours=1))

    claim = claim_due_items(get_kind(PRODUCT_KIND), "warm", 1)

    assert claim.pks == [fresh.pk]


def test_frozen_products_are_never_dispatched_but_sync_on_demand():
    now = timezone.now()
    frozen = products(3, tier="frozen", due=now - timedelta(days=30))

    for tier in ("hot", "warm", "cold"):
        dispatch_tier(PRODUCT_KIND, tier)
    assert not Product.objects.filter(lease_token__isnull=False).exists()

    assert sync_now(PRODUCT_KIND, frozen[0].pk, force=True) is True
    assert Product.objects.get(pk=frozen[0].pk).lease_token is not None
    assert sync_now(PRODUCT_KIND, frozen[0].pk, force=True) is False  # already on its way
