"""The on-demand sync's "fresh" means a recent success: a sync that just failed is no
answer to "give me today's prices"."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from market.models import Product
from tests.conftest import api_client_for
from tests.market.conftest import make_product, watch
from tests.market.helpers import sync

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def test_a_product_whose_sync_just_failed_is_not_fresh(sim, alice):
    product = make_product("FAIL-1")
    watch(alice, product)
    sim.fail_prefixes = {"/stockx", "/generic"}  # every provider answers 500
    attempt = sync(product)
    assert attempt.outcome == "failed"
    assert product.last_synced_at is not None and product.last_success_at is None
    Product.objects.filter(pk=product.pk).update(leased_until=None, lease_token=None)

    response = api_client_for(alice).post("/api/v1/products/FAIL-1/sync/")

    assert response.status_code == 202, response.json()
    assert response.json()["detail"] == "Sync queued."


def test_a_product_that_just_synced_well_is_fresh(sim, alice):
    product = make_product("GOOD-1")
    watch(alice, product)
    assert sync(product).outcome == "ok"
    Product.objects.filter(pk=product.pk).update(leased_until=None, lease_token=None)

    response = api_client_for(alice).post("/api/v1/products/GOOD-1/sync/")

    assert response.status_code == 200
    assert response.json()["detail"] == "Synced in the last 5 minutes."
