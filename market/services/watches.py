"""Watch thresholds: notice a crossing once, tell the owner (email + dashboard), re-arm.

A watch is *crossed* while its price is past the threshold. The owner is told when it
becomes crossed (not on every sync that finds it still crossed); when the price comes
back, the watch re-arms silently and the next crossing is told again.

The price a watch is judged on is one stable figure per product, region and size: the
**median of each provider's latest lowest ask** (its most recent snapshot in the last
``PROVIDER_ASK_MAX_AGE``, the lowest over sizes when the watch has no size). A provider
that fails or answers without that size keeps its last ask in the median until that ask is
older than the limit, so one provider dropping out and coming back moves nothing: one
crossing, one alert. With two providers the median is the mean of their asks.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from market.models import Direction, PriceSnapshot, Product, Watch, WatchAlert
from syncing.webhooks.services import emit

logger = logging.getLogger(__name__)
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
# A provider's last ask stays in the median this long after it stopped answering.
PROVIDER_ASK_MAX_AGE = timedelta(hours=48)


def provider_asks(
    product: Product, region: str, size: str, now: datetime
) -> dict[str, tuple[Decimal, str]]:
    """Each provider's latest lowest ask (and currency) for ``region`` (and ``size`` when
    given) from its snapshots of the last PROVIDER_ASK_MAX_AGE. Two queries."""
    recent = PriceSnapshot.objects.filter(
        product=product,
        region=region,
        lowest_ask__isnull=False,
        captured_at__gte=now - PROVIDER_ASK_MAX_AGE,
        captured_at__lte=now,
    ).order_by()
    if size:
        recent = recent.filter(size=size)
    latest = dict(
        recent.values("provider").annotate(at=Max("captured_at")).values_list("provider", "at")
    )
    if not latest:
        return {}
    at_latest = Q()
    for provider, at in latest.items():
        at_latest |= Q(provider=provider, captured_at=at)
    asks: dict[str, tuple[Decimal, str]] = {}
    for provider, ask, currency in recent.filter(at_latest).values_list(
        "provider", "lowest_ask", "currency"
    ):
        if provider not in asks or ask < asks[provider][0]:
            asks[provider] = (ask, currency)
    return asks


def stable_price(asks: dict[str, tuple[Decimal, str]]) -> tuple[Decimal, str] | None:
    """The median of the providers' asks in the currency most of them quote; None if none."""
    if not asks:
        return None
    by_currency: dict[str, list[Decimal]] = {}
    for ask, currency in asks.values():
        by_currency.setdefault(currency, []).append(ask)
    currency = max(sorted(by_currency), key=lambda c: len(by_currency[c]))
    prices = sorted(by_currency[currency])
    middle = len(prices) // 2
    if len(prices) % 2:
        return prices[middle], currency
    return ((prices[middle - 1] + prices[middle]) / 2).quantize(CENT), currency


def threshold_reached(watch: Watch, price: Decimal) -> bool:
    """True when ``price`` is past the watch's threshold in its direction."""
    if watch.threshold_price is not None:
        level = watch.threshold_price
        if watch.direction == Direction.BELOW:
            return price <= level
        if watch.direction == Direction.ABOVE:
            return price >= level
        # Either: past the level on the other side from where the watch started.
        base = watch.baseline_price if watch.baseline_price is not None else price
        return price == level or (price - level) * (base - level) < 0
    if watch.threshold_percent is not None and watch.baseline_price:
        change = (price - watch.baseline_price) / watch.baseline_price * HUNDRED
        limit = abs(watch.threshold_percent)
        if watch.direction == Direction.BELOW:
            return change <= -limit
        if watch.direction == Direction.ABOVE:
            return change >= limit
        return abs(change) >= limit
    return False


def describe(watch: Watch, price: Decimal, currency: str) -> str:
    if watch.threshold_price is not None:
        target = f"{watch.threshold_price} {currency}"
    else:
        target = f"{watch.threshold_percent}% from {watch.baseline_price} {currency}"
    verb = {"below": "fell below", "above": "rose above", "either": "moved past"}[watch.direction]
    where = f"{watch.watched_region}" + (f", size {watch.size}" if watch.size else "")
    return f"{watch.product.sku} {verb} {target}: median ask {price} {currency} ({where})"[:300]


def evaluate_watches(product: Product, *, now: datetime | None = None) -> list[WatchAlert]:
    """Update every watch of ``product`` with its stable price (see the module docstring)
    from the saved snapshots; alert the new crossings.

    Call inside the sync's transaction, after the new snapshots are saved: emails go out
    after it commits. Returns the alerts.
    """
    now = now or timezone.now()
    alerts: list[WatchAlert] = []
    watches = (
        Watch.objects.select_for_update()
        .filter(product=product)
        .select_related("owner", "product")
        .order_by("pk")
    )
    prices: dict[tuple[str, str], tuple[Decimal, str] | None] = {}
    for watch in watches:
        where = (watch.watched_region, watch.size)
        if where not in prices:
            prices[where] = stable_price(provider_asks(product, *where, now))
        seen = prices[where]
        if seen is None:
            continue
        price, currency = seen
        fields = ["last_price"]
        watch.last_price = price
        if watch.baseline_price is None:
            watch.baseline_price = price
            fields.append("baseline_price")
        reached = threshold_reached(watch, price)
        if reached and not watch.crossed:
            watch.crossed = True
            watch.last_notified_price = price
            fields += ["crossed", "last_notified_price"]
            alert = WatchAlert.objects.create(
                watch=watch,
                price=price,
                currency=currency,
                message=describe(watch, price, currency),
                crossed_at=now,
            )
            alerts.append(alert)
            transaction.on_commit(lambda a=alert: send_alert_email(a), robust=True)
            emit(
                watch.owner_id,
                "price.crossed",
                {
                    "sku": watch.product.sku,
                    "price": str(price),
                    "currency": currency,
                    "region": watch.watched_region,
                    "message": alert.message,
                },
            )
        elif not reached and watch.crossed:
            watch.crossed = False  # back on the other side: the next crossing is news again
            fields.append("crossed")
        watch.save(update_fields=fields)
    return alerts


def send_alert_email(alert: WatchAlert) -> None:
    """Email the watch's owner about one crossing (after the sync committed)."""
    owner = alert.watch.owner
    if not owner.email:
        return
    body = (
        f"{alert.message}\n\nSeen at {alert.crossed_at:%Y-%m-%d %H:%M} UTC.\n"
        f"Your watchlist: {settings.SITE_URL}/market/\n"
    )
    send_mail(
        f"Price alert: {alert.watch.product.sku}",
        body,
        settings.DEFAULT_FROM_EMAIL,
        [owner.email],
        fail_silently=False,
    )
