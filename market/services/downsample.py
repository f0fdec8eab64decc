"""Price snapshots thinned as they age: every sync's for a few days, hourly to 30 days, then
one a day.

A product's snapshots are series (provider, region, size). Past
``MARKET_SNAPSHOT_HOURLY_AFTER_DAYS`` (default 3: the demand rules read the last 72 hours at
full resolution) a series keeps one snapshot per hour; past
``MARKET_SNAPSHOT_DAILY_AFTER_DAYS`` (default 30) one per day (UTC). The one kept is the
*last* of its hour or day: a snapshot is one coherent observation (ask, bid, last sale and
sales count read together from one answer), so keeping a real one beats a min or a median
made of several (a day's lowest ask next to another moment's highest bid would be a market
that never existed); the last is the period's close, the value a chart of "price per day"
shows, and the one the next period starts from. Every series of a product is written by the
same syncs at the same ``captured_at``, so the kept rows still line up across providers and
sizes and market.selectors.price_series and the sparkline draw them as before, at a
coarser step.

Boundaries are whole hours and days, so a bucket is thinned once it is wholly past its
boundary and keeps the same row whenever it is thinned again: running twice, or two runs at
once, deletes nothing more (the row kept is the newest of its bucket, ties by primary key).
Work goes product by product (one window query each, on the (product, provider, region,
size, captured_at) index) and deletes in batches. The daily run looks
``MARKET_SNAPSHOT_LOOKBACK_DAYS`` (default 7) behind each boundary; 0 goes through the whole
history (once after a deploy, or after the task did not run for longer than that).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from django.conf import settings
from django.db.models import F, Window
from django.db.models.functions import RowNumber, TruncDay, TruncHour
from django.utils import timezone

from market.models import PriceSnapshot

logger = logging.getLogger(__name__)

DELETE_BATCH = 5000
PRODUCT_BATCH = 500


@dataclass(frozen=True)
class DownsampleReport:
    products: int
    deleted: int


def downsample_snapshots(
    now: datetime | None = None, *, lookback_days: int | None = None
) -> DownsampleReport:
    """Thin the snapshots of every product (see the module); returns how many were deleted."""
    now = now or timezone.now()
    if lookback_days is None:
        lookback_days = settings.MARKET_SNAPSHOT_LOOKBACK_DAYS
    hourly_until = _floor_hour(now - timedelta(days=settings.MARKET_SNAPSHOT_HOURLY_AFTER_DAYS))
    daily_until = _floor_day(now - timedelta(days=settings.MARKET_SNAPSHOT_DAILY_AFTER_DAYS))
    lookback = timedelta(days=lookback_days) if lookback_days else None
    bands = [
        # (since, until, truncate): since None = from the start of the history
        (daily_until - lookback if lookback else None, daily_until, partial(TruncDay, tzinfo=UTC)),
        (
            max(daily_until, hourly_until - lookback) if lookback else daily_until,
            hourly_until,
            partial(TruncHour, tzinfo=UTC),
        ),
    ]
    deleted = products = 0
    last_pk = 0
    while True:
        batch = list(
            PriceSnapshot.objects.filter(product_id__gt=last_pk, captured_at__lt=hourly_until)
            .order_by("product_id")
            .values_list("product_id", flat=True)
            .distinct()[:PRODUCT_BATCH]
        )
        if not batch:
            break
        for product_id in batch:
            for since, until, trunc in bands:
                deleted += _thin(product_id, since, until, trunc)
        products += len(batch)
        last_pk = batch[-1]
    if deleted:
        logger.info("downsampled snapshots of %d product(s): %d deleted", products, deleted)
    return DownsampleReport(products=products, deleted=deleted)


def _thin(product_id: int, since: datetime | None, until: datetime, trunc) -> int:
    """Delete every snapshot of the product in [since, until) but the newest of its series'
    hour or day."""
    qs = PriceSnapshot.objects.filter(product_id=product_id, captured_at__lt=until)
    if since is not None:
        qs = qs.filter(captured_at__gte=since)
    ranked = qs.annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F("provider"), F("region"), F("size"), trunc("captured_at")],
            order_by=[F("captured_at").desc(), F("pk").desc()],
        )
    )
    doomed = list(ranked.filter(rank__gt=1).values_list("pk", flat=True))
    deleted = 0
    for start in range(0, len(doomed), DELETE_BATCH):
        chunk = doomed[start : start + DELETE_BATCH]
        deleted += PriceSnapshot.objects.filter(pk__in=chunk).delete()[0]
    return deleted


def _floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _floor_day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
