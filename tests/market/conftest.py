"""Market fixtures: the provider simulator over HTTP on 127.0.0.1, products linked to it."""

from __future__ import annotations

import pytest

from market.marketsim import running_server
from market.marketsim.prices import product_uuid
from market.models import Product, ProviderLink, Watch
from syncing.ratelimit import reset_limiter

SIM_KEYS = {"stockx": "sim-stockx-key", "alias": "sim-alias-key"}


def providers_for(url: str, *, rate_limit: str = "1000/second") -> dict:
    return {
        "stockx": {
            "client": "stockx",
            "base_url": f"{url}/stockx/v2",
            "api_key": SIM_KEYS["stockx"],
            "token": "sim-token",
            "rate_limit": rate_limit,
        },
        "alias": {
            "client": "generic_json",
            "base_url": f"{url}/generic",
            "api_key": SIM_KEYS["alias"],
            "rate_limit": rate_limit,
        },
    }


@pytest.fixture
def sim(allow_private_urls, settings):
    """A simulator on a free port; MARKET_PROVIDERS points both providers at it."""
    reset_limiter()
    with running_server(rate_limit=1000, bucket_seconds=3600) as server:
        settings.MARKET_PROVIDERS = providers_for(server.url)
        yield server
    reset_limiter()


def make_product(
    sku: str = "DD1391-100", *, tier: str = "warm", links=("stockx", "alias"), **fields
) -> Product:
    fields.setdefault("name", f"Product {sku}")
    product = Product.objects.create(sku=sku, tier=tier, **fields)
    for provider in links:
        external = product_uuid(sku) if provider == "stockx" else sku
        ProviderLink.objects.create(product=product, provider=provider, external_id=external)
    return product


def watch(owner, product, **fields) -> Watch:
    return Watch.objects.create(owner=owner, product=product, **fields)


def set_price(server, sku: str, amount: str, **more) -> None:
    """Fix the simulator's lowest ask for ``sku`` at both providers."""
    fixed = {"lowest_ask": amount, **more}
    server.overrides[sku] = fixed
    server.overrides[product_uuid(sku)] = fixed
