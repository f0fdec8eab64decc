"""Demo data: a dozen products across the tiers, linked to the simulator, and watches."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from market.marketsim.prices import product_uuid
from market.models import Direction, Product, ProviderLink, Watch
from market.providers.registry import provider_configs

DEMO_PRODUCTS = [
    # sku, name, brand, colorway, tier
    ("DD1391-100", "Dunk Low Panda", "Nike", "White/Black", "hot"),
    ("DZ5485-612", "Air Jordan 1 High Chicago Lost & Found", "Jordan", "Varsity Red", "hot"),
    ("FQ8138-002", "Air Jordan 4 Bred Reimagined", "Jordan", "Black/Fire Red", "hot"),
    ("555088-134", "Air Jordan 1 University Blue", "Jordan", "White/University Blue", "warm"),
    ("HQ4540-100", "Nike SB Dunk Low", "Nike", "White/Gum", "warm"),
    ("IE0421", "Samba OG", "adidas", "Cloud White/Core Black", "warm"),
    ("U9060BPM", "9060", "New Balance", "Black/Castlerock", "cold"),
    ("M2002RDA", "2002R Protection Pack", "New Balance", "Rain Cloud", "cold"),
    ("CW2288-111", "Air Force 1 '07", "Nike", "White/White", "cold"),
    ("1183A201.101", "Gel-Lyte III", "ASICS", "Cream/Black", "frozen"),
    ("B75806", "Yeezy Boost 350 V2", "adidas", "Core Black/Red", "frozen"),
    ("AQ0818-100", "Air Max 97", "Nike", "Silver Bullet", "frozen"),
]


def seed(owner) -> int:
    """Create the demo products (idempotent) and watches for ``owner``; returns the count."""
    configs = provider_configs()
    created = 0
    with transaction.atomic():
        for sku, name, brand, colorway, tier in DEMO_PRODUCTS:
            product, was_created = Product.objects.get_or_create(
                sku=sku,
                defaults={
                    "name": name,
                    "brand": brand,
                    "colorway": colorway,
                    "tier": tier,
                    "created_by": owner,
                },
            )
            created += was_created
            for provider, config in configs.items():
                ProviderLink.objects.get_or_create(
                    product=product,
                    provider=provider,
                    defaults={"external_id": _external_id(sku, config)},
                )
        # The owner watches the hot and warm ones; one with an alert that will trip soon.
        for index, (sku, *_rest) in enumerate(DEMO_PRODUCTS[:6]):
            product = Product.objects.get(sku=sku)
            alert = (
                {"threshold_percent": Decimal("1.00"), "direction": Direction.EITHER}
                if index == 0
                else {}
            )
            Watch.objects.get_or_create(owner=owner, product=product, defaults=alert)
    return created


def _external_id(sku: str, config) -> str:
    if config.client != "stockx":
        return sku
    # The simulator's productId for the SKU; a real StockX resolves it at the first sync.
    return product_uuid(sku) if config.allow_loopback else ""
