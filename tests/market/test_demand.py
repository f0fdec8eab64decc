"""Demand rules: watchers, sales and price moves raise the tier; idle sinks; pins hold."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from market.models import PriceSnapshot, Product, TierChange
from market.services.demand import apply_demand_rules
from market.services.products import tier_pin
from tests.conftest import make_owner
from tests.market.conftest import make_product, watch

pytestmark = pytest.mark.django_db


def synced(product, hours_ago=1):
    Product.objects.filter(pk=product.pk).update(
        last_synced_at=timezone.now() - timedelta(hours=hours_ago)
    )
    product.refresh_from_db()
    return product


def snapshot(product, *, hours_ago, ask="100.00", sales=0, region="US"):
    PriceSnapshot.objects.create(
        product=product,
        provider="alias",
        region=region,
        size="10",
        currency="USD",
        lowest_ask=Decimal(ask),
        sales_72h=sales,
        captured_at=timezone.now() - timedelta(hours=hours_ago),
    )


def test_three_watchers_make_a_product_hot_and_the_change_is_recorded(alice, bob, charlie):
    product = synced(make_product(tier="cold"))
    for owner in (alice, bob, charlie):
        watch(owner, product)

    report = apply_demand_rules()

    product.refresh_from_db()
    assert product.tier == "hot"
    change = TierChange.objects.get(product=product)
    assert (change.from_tier, change.to_tier, change.by) == ("cold", "hot", None)
    assert change.reason.startswith("rise: 3 watcher(s)")
    assert report.changed == 1


def test_rising_makes_the_product_due_on_its_new_rhythm():
    product = synced(make_product(tier="cold"), hours_ago=2)
    Product.objects.filter(pk=product.pk).update(next_sync_at=timezone.now() + timedelta(hours=20))
    snapshot(product, hours_ago=1, sales=60)

    apply_demand_rules()

    product.refresh_from_db()
    assert product.tier == "hot"
    assert product.next_sync_at <= timezone.now()  # last sync + 1h is already past
    assert "60 sales in 72h" in TierChange.objects.get(product=product).reason


def test_a_price_move_raises_the_tier():
    product = synced(make_product(tier="frozen"))
    snapshot(product, hours_ago=30, ask="100.00")
    snapshot(product, hours_ago=2, ask="93.00")  # -7%

    apply_demand_rules()

    product.refresh_from_db()
    assert product.tier == "warm"
    assert "price move 7.0%" in TierChange.objects.get(product=product).reason


def test_idle_products_sink_one_tier_per_run():
    product = synced(make_product(tier="hot"))

    apply_demand_rules()
    product.refresh_from_db()
    assert product.tier == "warm"
    apply_demand_rules()
    apply_demand_rules()
    product.refresh_from_db()
    assert product.tier == "frozen"
    reasons = list(
        TierChange.objects.filter(product=product)
        .order_by("at", "pk")
        .values_list("from_tier", "to_tier")
    )
    assert reasons == [("hot", "warm"), ("warm", "cold"), ("cold", "frozen")]
    assert (
        TierChange.objects.filter(product=product, reason__startswith="sink: 0 watcher").count()
        == 3
    )


def test_pinned_tiers_are_kept_and_pinning_is_recorded(staff):
    product = synced(make_product(tier="warm"))
    tier_pin(product, "hot", by=staff)

    apply_demand_rules()

    product.refresh_from_db()
    assert product.tier == "hot" and product.tier_pinned
    change = TierChange.objects.get(product=product)
    assert change.by == staff and change.reason == "pinned to hot by staff"


def test_never_synced_products_are_not_sunk():
    product = make_product(tier="warm")
    apply_demand_rules()
    product.refresh_from_db()
    assert product.tier == "warm"


def test_a_new_watch_through_the_service_applies_the_rules_at_once(
    django_capture_on_commit_callbacks, settings
):
    from market.services.products import watch_add

    owners = [make_owner(f"w{i}@example.com") for i in range(3)]
    product = synced(make_product("EVT-1", tier="cold"))
    # The new-product sync is not triggered for an existing product; no broker needed.
    for owner in owners:
        with django_capture_on_commit_callbacks(execute=True):
            watch_add(owner, "EVT-1")

    product.refresh_from_db()
    assert product.tier == "hot"
    assert list(
        TierChange.objects.filter(product=product)
        .values_list("to_tier", flat=True)
        .order_by("at", "pk")
    ) == ["warm", "hot"]
