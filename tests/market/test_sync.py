"""One product sync against the simulator: providers, regions, outages, 429s, Decimal."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from market.models import PriceSnapshot, ProviderLink
from tests.market.conftest import SIM_KEYS, make_product, providers_for, set_price, watch
from tests.market.helpers import sync

pytestmark = pytest.mark.django_db


def test_a_sync_saves_every_provider_for_the_primary_and_the_watchers_regions(sim, alice, bob):
    product = make_product(primary_region="US")
    watch(alice, product, region="EU")
    watch(bob, product)  # the primary region

    attempt = sync(product)

    assert attempt.outcome == "ok", attempt.message
    assert attempt.counts["providers"] == {"alias": "ok", "stockx": "ok"}
    assert attempt.counts["regions"] == ["US", "EU"]
    snaps = PriceSnapshot.objects.filter(product=product)
    assert set(snaps.values_list("provider", "region").distinct()) == {
        ("stockx", "US"),
        ("stockx", "EU"),
        ("alias", "US"),
        ("alias", "EU"),
    }
    assert set(snaps.filter(region="EU").values_list("currency", flat=True)) == {"EUR"}
    assert attempt.items_changed == snaps.count() > 0
    assert product.last_success_at is not None and product.consecutive_failures == 0
    # StockX has no sales figures in v2 market data; the generic provider does.
    assert snaps.filter(provider="stockx", sales_72h__isnull=False).count() == 0
    assert snaps.filter(provider="alias", last_sale__isnull=False).exists()


def test_stockx_product_id_and_variant_ids_are_resolved_once_and_kept(sim):
    product = make_product("FQ8138-002")
    ProviderLink.objects.filter(product=product, provider="stockx").update(external_id="")

    assert sync(product).outcome == "ok"
    link = ProviderLink.objects.get(product=product, provider="stockx")
    assert link.external_id and link.variant_ids
    searches = sim.stats()["served"][SIM_KEYS["stockx"]]

    sync_again = make_product("OTHER-1", links=())  # noqa: F841 - keeps pks apart
    product.refresh_from_db()
    product.last_synced_at = None
    assert sync(product).outcome == "ok"
    # Second sync: one market-data request only (no search, no variants).
    assert sim.stats()["served"][SIM_KEYS["stockx"]] == searches + 1


def test_amounts_stay_exact_decimals_from_the_wire_to_the_database(sim):
    product = make_product("DEC-1")
    set_price(sim, "DEC-1", "199.99", highest_bid="150.10", last_sale="0.30")

    assert sync(product).outcome == "ok"

    snap = PriceSnapshot.objects.filter(product=product, provider="alias").first()
    assert snap.lowest_ask == Decimal("199.99")
    assert snap.highest_bid == Decimal("150.10")
    assert snap.last_sale == Decimal("0.30")
    stockx = PriceSnapshot.objects.filter(product=product, provider="stockx").first()
    assert stockx.lowest_ask == Decimal("199.99")


def test_json_numbers_are_read_as_decimal_not_float(sim):
    sim.numbers = True  # amounts sent as JSON numbers: 0.1 + 0.2 would not survive a float
    product = make_product("NUM-1")
    set_price(sim, "NUM-1", "100.10", highest_bid="0.30")

    assert sync(product).outcome == "ok"

    snap = PriceSnapshot.objects.filter(product=product, provider="alias").first()
    assert snap.lowest_ask == Decimal("100.10")
    assert snap.highest_bid == Decimal("0.30")


def test_one_provider_down_does_not_stop_the_other(sim):
    product = make_product()
    sim.fail_prefixes = {"/generic"}

    attempt = sync(product)

    assert attempt.outcome == "ok"
    assert attempt.reason == "partial"
    assert attempt.counts["providers"] == {"stockx": "ok", "alias": "http_5xx"}
    assert "alias" in attempt.message
    assert set(
        PriceSnapshot.objects.filter(product=product).values_list("provider", flat=True)
    ) == {"stockx"}
    assert product.consecutive_failures == 0
    # At most 3 tries per request: the failing provider was asked three times, then left.
    assert sim.stats()["requests"][SIM_KEYS["alias"]] == 3


def test_all_providers_down_fails_the_item_with_the_last_reason(sim):
    product = make_product()
    sim.fail_prefixes = {"/generic", "/stockx"}

    attempt = sync(product)

    assert attempt.outcome == "failed"
    assert attempt.reason == "http_5xx"
    assert attempt.http_status == 500
    assert "all 2 providers failed" in attempt.message
    assert product.consecutive_failures == 1
    assert product.next_sync_at > timezone.now()
    assert not PriceSnapshot.objects.filter(product=product).exists()


def test_429_is_retried_after_retry_after_and_the_sync_succeeds(allow_private_urls, settings):
    """The simulator allows 2 requests/s per key; we ask for 4 regions at once (our limiter
    set too high on purpose): the fetcher waits Retry-After and slows the shared limiter."""
    from market.marketsim import running_server
    from syncing.ratelimit import reset_limiter

    reset_limiter()
    with running_server(rate_limit=2, bucket_seconds=3600) as server:
        settings.MARKET_PROVIDERS = {
            "alias": providers_for(server.url, rate_limit="100/second")["alias"]
        }
        product = make_product("RL-1", links=("alias",))
        for region in ("EU", "UK", "JP"):
            watch_owner = _owner(region)
            watch(watch_owner, product, region=region)
        started = time.monotonic()

        attempt = sync(product)

        elapsed = time.monotonic() - started
        stats = server.stats()
    reset_limiter()
    assert attempt.outcome == "ok", attempt.message
    assert attempt.counts["regions"] == ["US", "EU", "JP", "UK"]
    assert stats["served"][SIM_KEYS["alias"]] == 4
    assert 1 <= stats["rate_limited"].get(SIM_KEYS["alias"], 0) <= 2  # cooled down, no herd
    assert elapsed >= 0.5  # it waited for the window instead of hammering


def test_a_long_retry_after_reschedules_the_item_instead_of_holding_the_worker(sim):
    product = make_product(links=("alias",))
    sim.throttle_prefixes = {"/generic": 120}
    before = timezone.now()

    attempt = sync(product)

    assert attempt.outcome == "failed"
    assert attempt.reason == "http_429"
    assert sim.stats()["requests"][SIM_KEYS["alias"]] == 1  # Retry-After past our wait: no retry
    assert product.next_sync_at >= before + timedelta(seconds=119)


def test_a_product_without_links_is_skipped(sim):
    product = make_product(links=())
    attempt = sync(product)
    assert attempt.outcome == "skipped"
    assert attempt.reason == "no_providers"


def _owner(region: str):
    from tests.conftest import make_owner

    return make_owner(f"{region.lower()}@example.com")
