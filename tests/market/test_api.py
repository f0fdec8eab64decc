"""The market API: scoped products, history, watches, the on-demand sync, IDOR everywhere."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from market.models import PriceSnapshot, Product, Watch
from tests.conftest import api_client_for
from tests.market.conftest import make_product, set_price, watch
from tests.market.helpers import sync

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alices_product(alice):
    product = make_product("ALICE-1", name="Dunk Low Panda", brand="Nike")
    watch(alice, product)
    return product


@pytest.fixture
def bobs_product(bob):
    product = make_product("BOB-1", name="Samba", brand="adidas")
    watch(bob, product)
    return product


def snap(product, ask="199.99", **fields):
    defaults = {
        "provider": "alias",
        "region": "US",
        "size": "10",
        "currency": "USD",
        "captured_at": timezone.now(),
    }
    defaults.update(fields)
    return PriceSnapshot.objects.create(product=product, lowest_ask=Decimal(ask), **defaults)


# --- products ----------------------------------------------------------------------------
def test_the_product_list_shows_only_my_watchlist(alice_api, alices_product, bobs_product):
    body = alice_api.get("/api/v1/products/").json()
    assert [p["sku"] for p in body["results"]] == ["ALICE-1"]
    row = body["results"][0]
    assert {"sku", "name", "brand", "tier", "last_synced_at", "provider_links"} <= set(row)
    assert {link["provider"] for link in row["provider_links"]} == {"stockx", "alias"}


def test_products_search_and_filter_by_tier(alice, alice_api):
    for sku, brand, tier in [("A-1", "Nike", "hot"), ("B-2", "adidas", "cold")]:
        watch(alice, make_product(sku, brand=brand, tier=tier))
    assert [p["sku"] for p in alice_api.get("/api/v1/products/?q=adid").json()["results"]] == [
        "B-2"
    ]
    assert [p["sku"] for p in alice_api.get("/api/v1/products/?search=a-1").json()["results"]] == [
        "A-1"
    ]
    assert [p["sku"] for p in alice_api.get("/api/v1/products/?tier=hot").json()["results"]] == [
        "A-1"
    ]


def test_the_detail_has_the_latest_price_per_provider_region_and_size(alice_api, alices_product):
    old = timezone.now() - timedelta(hours=2)
    snap(alices_product, "150.00", captured_at=old)
    snap(alices_product, "199.99")
    snap(alices_product, "180.00", provider="stockx", captured_at=old)

    body = alice_api.get("/api/v1/products/ALICE-1/").json()

    prices = {(p["provider"], p["region"], p["size"]): p for p in body["prices"]}
    assert set(prices) == {("alias", "US", "10"), ("stockx", "US", "10")}
    assert prices[("alias", "US", "10")]["lowest_ask"] == "199.99"
    assert prices[("alias", "US", "10")]["currency"] == "USD"
    assert prices[("stockx", "US", "10")]["lowest_ask"] == "180.00"


def test_decimal_amounts_end_to_end_from_the_provider_to_the_api(sim, alice, alice_api):
    product = make_product("DEC-API")
    watch(alice, product)
    set_price(sim, "DEC-API", "199.99")
    assert sync(product).outcome == "ok"

    prices = alice_api.get("/api/v1/products/DEC-API/").json()["prices"]

    assert prices and {p["lowest_ask"] for p in prices} == {"199.99"}
    assert PriceSnapshot.objects.filter(product=product).first().lowest_ask == Decimal("199.99")


def test_history_is_paginated_and_filtered(alice_api, alices_product):
    now = timezone.now()
    for i in range(3):
        snap(alices_product, f"10{i}.00", captured_at=now - timedelta(hours=i))
    snap(alices_product, "5.00", region="EU", currency="EUR", captured_at=now)

    body = alice_api.get("/api/v1/products/ALICE-1/history/?region=US").json()
    assert body["count"] == 3
    assert [r["lowest_ask"] for r in body["results"]] == ["100.00", "101.00", "102.00"]
    since = (now - timedelta(minutes=90)).isoformat().replace("+00:00", "Z")
    body = alice_api.get(
        "/api/v1/products/ALICE-1/history/", {"since": since, "region": "US"}
    ).json()
    assert body["count"] == 2


def test_adding_a_product_by_sku_watches_it_and_creates_it_once(alice_api, bob_api, alice):
    response = alice_api.post("/api/v1/products/", {"sku": "new-sku-1"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["sku"] == "NEW-SKU-1"
    product = Product.objects.get(sku="NEW-SKU-1")
    assert product.created_by == alice
    assert set(product.provider_links.values_list("provider", flat=True)) == {"stockx", "alias"}

    assert (
        alice_api.post("/api/v1/products/", {"sku": "NEW-SKU-1"}, format="json").status_code == 200
    )
    assert bob_api.post("/api/v1/products/", {"sku": "NEW-SKU-1"}, format="json").status_code == 201
    assert Product.objects.filter(sku="NEW-SKU-1").count() == 1


def test_adding_past_the_plan_allowance_is_refused(charlie):
    api = api_client_for(charlie)  # free plan: one product
    assert api.post("/api/v1/products/", {"sku": "ONE"}, format="json").status_code == 201
    response = api.post("/api/v1/products/", {"sku": "TWO"}, format="json")
    assert response.status_code == 400
    assert "allows 1" in response.json()["sku"][0]


def test_deleting_a_product_takes_it_off_my_watchlist_only(alice_api, alice, bob, alices_product):
    watch(bob, alices_product)
    assert alice_api.delete("/api/v1/products/ALICE-1/").status_code == 204
    assert Product.objects.filter(sku="ALICE-1").exists()
    assert list(Watch.objects.filter(product=alices_product).values_list("owner", flat=True)) == [
        bob.pk
    ]


# --- on-demand sync ----------------------------------------------------------------------
def test_sync_needs_authentication(anon_api, alices_product):
    assert anon_api.post("/api/v1/products/ALICE-1/sync/").status_code == 401


def test_sync_of_an_unknown_sku_is_404(alice_api):
    assert alice_api.post("/api/v1/products/NOPE/sync/").status_code == 404


def test_sync_of_a_fresh_product_is_200_with_its_last_sync(alice_api, alices_product):
    synced_at = timezone.now() - timedelta(minutes=2)
    Product.objects.filter(pk=alices_product.pk).update(
        last_synced_at=synced_at, last_success_at=synced_at
    )

    response = alice_api.post("/api/v1/products/ALICE-1/sync/")

    assert response.status_code == 200
    assert response.json()["last_synced_at"] == synced_at.isoformat().replace("+00:00", "Z")
    assert Product.objects.get(pk=alices_product.pk).lease_token is None


def test_sync_of_a_stale_product_is_202_and_goes_to_the_front_of_the_queue(
    alice_api, alices_product
):
    Product.objects.filter(pk=alices_product.pk).update(
        last_synced_at=timezone.now() - timedelta(hours=1), tier="frozen"
    )

    response = alice_api.post("/api/v1/products/ALICE-1/sync/")

    assert response.status_code == 202
    assert response.json()["detail"] == "Sync queued."
    assert Product.objects.get(pk=alices_product.pk).lease_token is not None  # claimed


def test_manual_syncs_are_rate_limited_per_owner_with_retry_after(charlie, alice_api, alice):
    product = make_product("RATE-1")
    watch(charlie, product)
    watch(alice, product)
    api = api_client_for(charlie)  # free plan: 2 manual syncs per hour
    Product.objects.filter(pk=product.pk).update(leased_until=None)

    codes = []
    for _ in range(3):
        Product.objects.filter(pk=product.pk).update(leased_until=None, lease_token=None)
        codes.append(api.post("/api/v1/products/RATE-1/sync/"))
    assert [r.status_code for r in codes] == [202, 202, 429]
    assert 0 < int(codes[2]["Retry-After"]) <= 3600
    # Another owner has an allowance of their own.
    Product.objects.filter(pk=product.pk).update(leased_until=None, lease_token=None)
    assert alice_api.post("/api/v1/products/RATE-1/sync/").status_code == 202


# --- watches -----------------------------------------------------------------------------
def test_watch_crud_for_my_own_watches(alice_api, alice):
    make_product("W-1")
    response = alice_api.post(
        "/api/v1/watches/",
        {"product": "W-1", "threshold_price": "150.50", "direction": "below", "region": "EU"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["threshold_price"] == "150.50" and body["region"] == "EU"
    pk = body["id"]
    assert (
        alice_api.patch(
            f"/api/v1/watches/{pk}/", {"threshold_price": "140.00"}, format="json"
        ).json()["threshold_price"]
        == "140.00"
    )
    again = alice_api.post("/api/v1/watches/", {"product": "W-1"}, format="json")
    assert again.status_code == 400
    both = alice_api.post(
        "/api/v1/watches/",
        {"product": "W-1", "threshold_price": "1", "threshold_percent": "5"},
        format="json",
    )
    assert both.status_code == 400
    assert alice_api.delete(f"/api/v1/watches/{pk}/").status_code == 204


# --- IDOR: another owner's objects are 404, never 403 --------------------------------------
@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/v1/products/"),
        ("post", "/api/v1/products/"),
        ("get", "/api/v1/products/BOB-1/"),
        ("get", "/api/v1/products/BOB-1/history/"),
        ("get", "/api/v1/watches/"),
    ],
)
def test_every_endpoint_needs_authentication(anon_api, bobs_product, method, path):
    assert getattr(anon_api, method)(path).status_code == 401
