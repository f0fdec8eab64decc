"""Reads for the market pages and API, always scoped to one owner where owners are involved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Exists, Min, OuterRef, QuerySet
from django.utils import timezone

from market.charts import sparkline_svg
from market.models import PriceSnapshot, Product, Watch, WatchAlert


def owner_products(user) -> QuerySet[Product]:
    """The products ``user`` watches (another owner's watchlist is invisible)."""
    return Product.objects.filter(Exists(Watch.objects.filter(product=OuterRef("pk"), owner=user)))


def owner_watches(user) -> QuerySet[Watch]:
    return Watch.objects.filter(owner=user).select_related("product")


def latest_prices(product: Product) -> list[PriceSnapshot]:
    """The newest snapshot per (provider, region, size)."""
    qs = PriceSnapshot.objects.filter(product=product)
    if connection.vendor == "postgresql":
        return list(
            qs.order_by("provider", "region", "size", "-captured_at").distinct(
                "provider", "region", "size"
            )
        )
    seen: dict[tuple[str, str, str], PriceSnapshot] = {}
    for snap in qs.order_by("-captured_at")[:5000]:
        seen.setdefault((snap.provider, snap.region, snap.size), snap)
    return sorted(seen.values(), key=lambda s: (s.provider, s.region, s.size))


def price_series(
    product: Product, region: str, *, since: datetime, size: str = ""
) -> list[tuple[datetime, Decimal, str]]:
    """(captured_at, lowest ask across providers and sizes, currency) per sync since ``since``."""
    qs = PriceSnapshot.objects.filter(
        product=product, region=region, captured_at__gte=since, lowest_ask__isnull=False
    )
    if size:
        qs = qs.filter(size=size)
    rows = (
        qs.values("captured_at", "currency").annotate(low=Min("lowest_ask")).order_by("captured_at")
    )
    # MIN() over a decimal column comes back from SQLite with float noise in its digits;
    # prices are cents, so say so.
    cent = Decimal("0.01")
    return [(r["captured_at"], Decimal(r["low"]).quantize(cent), r["currency"]) for r in rows]


@dataclass
class WatchRow:
    watch: Watch
    product: Product
    price: Decimal | None
    currency: str
    change: Decimal | None  # since yesterday, in currency
    change_percent: Decimal | None
    chart: str  # inline SVG


def watchlist(user, *, now: datetime | None = None, days: int = 7) -> list[WatchRow]:
    """Each watched product with its current price, change since yesterday and a chart."""
    now = now or timezone.now()
    rows = []
    for watch in owner_watches(user).order_by("product__sku"):
        series = price_series(
            watch.product, watch.watched_region, since=now - timedelta(days=days), size=watch.size
        )
        price = series[-1][1] if series else None
        currency = series[-1][2] if series else ""
        change = change_percent = None
        if series:
            day_ago = now - timedelta(hours=24)
            before = [p for t, p, _ in series if t <= day_ago] or [series[0][1]]
            change = price - before[-1]
            if before[-1]:
                change_percent = (change / before[-1] * 100).quantize(Decimal("0.1"))
        rows.append(
            WatchRow(
                watch=watch,
                product=watch.product,
                price=price,
                currency=currency,
                change=change,
                change_percent=change_percent,
                chart=sparkline_svg([p for _, p, _ in series]),
            )
        )
    return rows


def moved_products_for_briefing(
    user, since: datetime, *, threshold: Decimal = Decimal("2")
) -> list[tuple[str, Decimal]]:
    """Watched products whose lowest ask moved by ``threshold`` percent or more since
    ``since``, as (name, change in percent), biggest moves first (the alarms briefing)."""
    moves = []
    for watch in owner_watches(user).select_related("product"):
        series = price_series(watch.product, watch.watched_region, since=since, size=watch.size)
        if len(series) < 2 or not series[0][1]:
            continue
        change = ((series[-1][1] - series[0][1]) / series[0][1] * 100).quantize(Decimal("0.1"))
        if abs(change) >= threshold:
            moves.append((watch.product.name or watch.product.sku, change))
    return sorted(moves, key=lambda move: abs(move[1]), reverse=True)


def unseen_alerts(user) -> QuerySet[WatchAlert]:
    return (
        WatchAlert.objects.filter(watch__owner=user, seen=False)
        .select_related("watch__product")
        .order_by("-crossed_at")
    )


def dashboard_section(request) -> dict | None:
    """The market part of the owner's dashboard: unseen price alerts."""
    if not request.user.is_authenticated:
        return None
    alerts = list(unseen_alerts(request.user)[:10])
    watching = Watch.objects.filter(owner=request.user).count()
    if not alerts and not watching:
        return None
    return {
        "template": "market/_dashboard.html",
        "title": "Market",
        "alerts": alerts,
        "watching": watching,
    }
