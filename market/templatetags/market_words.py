"""{% load market_words %}: products and tiers in an owner's words."""

from __future__ import annotations

from django import template

from market.kinds import PRODUCT_KIND
from market.services.product_sync import is_unknown_sku
from syncing.humane import span
from syncing.models import Tier

register = template.Library()


@register.filter
def product_name(product) -> str:
    """Brand once: "Nike SB Dunk Low", not "Nike Nike SB Dunk Low"; the SKU without a name."""
    return product.display_name


@register.filter
def unknown_sku(product) -> bool:
    """Whether the last sync found the product's SKU at no provider (say so, not "failed")."""
    return is_unknown_sku(product)


@register.filter
def checked_how_often(product) -> str:
    """The product's tier in plain words, from its interval: "checked every 6 hours"."""
    interval = (
        Tier.objects.filter(kind=PRODUCT_KIND, name=product.tier)
        .values_list("interval", flat=True)
        .first()
    )
    if interval is None:
        return "checked when you ask (Sync now)"
    seconds = interval.total_seconds()
    if seconds >= 50 * 60:  # "hot" runs every 55 minutes to stay under an hour: "hourly"
        seconds = round(seconds / 3600) * 3600
    words = span(seconds)
    return "checked " + {"1 hour": "hourly", "24 hours": "daily"}.get(words, f"every {words}")
