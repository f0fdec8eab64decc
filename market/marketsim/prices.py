"""Deterministic prices that move: a seeded random walk by time bucket.

The price of (product, region, size) at bucket ``b`` is the product's base price times
``1 + sum(step(k) for k in the last WINDOW buckets)``, each step a seeded random number in
[-1.5%, +1.5%]: it moves like a random walk, stays bounded, and every process (and every
test) computes the same price for the same bucket without keeping any state.
"""

from __future__ import annotations

import hashlib
import random
from decimal import ROUND_HALF_EVEN, Decimal

REGIONS = {"US": "USD", "EU": "EUR", "UK": "GBP", "JP": "JPY"}
# USD -> regional currency, roughly.
FX = {"USD": Decimal("1"), "EUR": Decimal("0.92"), "GBP": Decimal("0.79"), "JPY": Decimal("151")}
# StockX's ``country`` parameter back to our regions.
COUNTRY_REGION = {
    "US": "US",
    "DE": "EU",
    "FR": "EU",
    "IT": "EU",
    "NL": "EU",
    "EU": "EU",
    "GB": "UK",
    "UK": "UK",
    "JP": "JP",
}
ALL_SIZES = ["6", "7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "12", "13"]
WINDOW = 48
STEP = 0.015
CENT = Decimal("0.01")


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def product_uuid(sku: str) -> str:
    """A stable StockX-like productId (a UUID) for a SKU."""
    h = hashlib.sha256(f"product|{sku.upper()}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def variant_uuid(product_id: str, size: str) -> str:
    h = hashlib.sha256(f"variant|{product_id}|{size}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-b{h[17:20]}-{h[20:32]}"


def sizes_for(key: str) -> list[str]:
    rng = _rng("sizes", key)
    start = rng.randint(0, 3)
    return ALL_SIZES[start : start + rng.randint(6, 9)]


def base_price(key: str) -> Decimal:
    return Decimal(_rng("base", key).randint(90, 600))


def walk(key: str, region: str, size: str, bucket: int) -> float:
    total = 0.0
    for k in range(bucket - WINDOW + 1, bucket + 1):
        total += _rng("step", key, region, size, k).uniform(-STEP, STEP)
    return total


def quote(key: str, region: str, size: str, bucket: int) -> dict:
    """Prices (Decimal, regional currency) and sales for one size at one time bucket."""
    currency = REGIONS[region]
    usd = base_price(key) * (Decimal(1) + Decimal(str(round(walk(key, region, size, bucket), 6))))
    size_premium = Decimal(1) + Decimal(ALL_SIZES.index(size) % 4) / 50
    ask = (usd * size_premium * FX[currency]).quantize(CENT, rounding=ROUND_HALF_EVEN)
    rng = _rng("sales", key, region, size, bucket)
    return {
        "currency": currency,
        "lowest_ask": ask,
        "highest_bid": (ask * Decimal("0.86")).quantize(CENT),
        "last_sale": (ask * Decimal("0.95")).quantize(CENT),
        "sales_72h": rng.randint(0, 40),
    }
