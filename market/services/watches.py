"""Watch thresholds: notice a crossing once, tell the owner (email + dashboard), re-arm.

A watch is *crossed* while its price is past the threshold. The owner is told when it
becomes crossed (not on every sync that finds it still crossed); when the price comes
back, the watch re-arms silently and the next crossing is told again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from market.models import Direction, Product, Watch, WatchAlert
from market.providers.base import PriceQuote
from syncing.webhooks.services import emit

logger = logging.getLogger(__name__)
HUNDRED = Decimal(100)


def watched_price(watch: Watch, quotes: list[PriceQuote]) -> tuple[Decimal, str] | None:
    """The lowest ask (and its currency) among ``quotes`` in the watch's region and size."""
    region = watch.watched_region
    best: PriceQuote | None = None
    for q in quotes:
        if q.region != region or q.lowest_ask is None:
            continue
        if watch.size and q.size != watch.size:
            continue
        if best is None or q.lowest_ask < best.lowest_ask:
            best = q
    return (best.lowest_ask, best.currency) if best else None


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
    return f"{watch.product.sku} {verb} {target}: lowest ask {price} {currency} ({where})"[:300]


def evaluate_watches(
    product: Product, quotes: list[PriceQuote], *, now: datetime | None = None
) -> list[WatchAlert]:
    """Update every watch of ``product`` with the new prices; alert the new crossings.

    Call inside the sync's transaction: emails go out after it commits. Returns the alerts.
    """
    now = now or timezone.now()
    alerts: list[WatchAlert] = []
    watches = (
        Watch.objects.select_for_update()
        .filter(product=product)
        .select_related("owner", "product")
        .order_by("pk")
    )
    for watch in watches:
        seen = watched_price(watch, quotes)
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
