"""Price snapshots thinned as they age: every sync's for 3 days, the last of each hour to 30
days, then the last of each day; idempotent, and the chart still draws the series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from market.charts import sparkline_svg
from market.models import PriceSnapshot
from market.selectors import price_series
from market.services.downsample import downsample_snapshots
from tests.market.conftest import make_product

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def snapshots(product, moments, *, providers=("stockx", "alias"), sizes=("9", "10")):
    PriceSnapshot.objects.bulk_create(
        PriceSnapshot(
            product=product,
            provider=provider,
            region="US",
            size=size,
            currency="USD",
            lowest_ask=Decimal(100 + i),
            captured_at=moment,
        )
        for i, moment in enumerate(moments)
        for provider in providers
        for size in sizes
    )


def every(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    moments, moment = [], start
    while moment < end:
        moments.append(moment)
        moment += step
    return moments


def test_recent_kept_whole_then_last_of_each_hour_then_last_of_each_day(settings):
    settings.MARKET_SNAPSHOT_HOURLY_AFTER_DAYS = 3
    settings.MARKET_SNAPSHOT_DAILY_AFTER_DAYS = 30
    product = make_product()
    # Every 20 minutes for the last 40 days: 3 a hour, 72 a day, in 4 series.
    moments = every(NOW - timedelta(days=40), NOW, timedelta(minutes=20))
    snapshots(product, moments)
    series = 4

    report = downsample_snapshots(NOW, lookback_days=0)

    hourly_until = NOW - timedelta(days=3)  # NOW is on the hour
    daily_until = datetime(2026, 11, 1, tzinfo=UTC)
    kept = PriceSnapshot.objects.filter(product=product)
    recent = [m for m in moments if m >= hourly_until]
    hourly = {m.replace(minute=0) for m in moments if daily_until <= m < hourly_until}
    daily = {m.date() for m in moments if m < daily_until}
    assert kept.filter(captured_at__gte=hourly_until).count() == len(recent) * series
    assert kept.filter(captured_at__gte=daily_until, captured_at__lt=hourly_until).count() == (
        len(hourly) * series
    )
    assert kept.filter(captured_at__lt=daily_until).count() == len(daily) * series
    assert report.deleted == len(moments) * series - kept.count()
    # The one kept is the last of its period, the same moment in every series.
    old = set(kept.filter(captured_at__lt=daily_until).values_list("captured_at", flat=True))
    assert old == {
        datetime.combine(d, datetime.min.time(), UTC) + timedelta(hours=23, minutes=40)
        for d in daily
    }
    hour_kept = set(
        kept.filter(captured_at__gte=daily_until, captured_at__lt=hourly_until).values_list(
            "captured_at", flat=True
        )
    )
    assert all(m.minute == 40 for m in hour_kept)

    # Idempotent: a second run deletes nothing.
    assert downsample_snapshots(NOW, lookback_days=0).deleted == 0
    assert downsample_snapshots(NOW).deleted == 0

    # The chart reads the thinned series as before: one point per kept moment.
    points = price_series(product, "US", since=NOW - timedelta(days=40))
    assert len(points) == len(recent) + len(hourly) + len(daily)
    assert [p[0] for p in points] == sorted(p[0] for p in points)
    assert "<polyline" in sparkline_svg([p[1] for p in points])


def test_the_daily_run_looks_back_only_a_week_past_each_boundary(settings):
    settings.MARKET_SNAPSHOT_HOURLY_AFTER_DAYS = 3
    settings.MARKET_SNAPSHOT_DAILY_AFTER_DAYS = 30
    product = make_product()
    ancient = every(NOW - timedelta(days=60), NOW - timedelta(days=59), timedelta(hours=1))
    near = every(NOW - timedelta(days=31), NOW - timedelta(days=30, hours=12), timedelta(hours=1))
    snapshots(product, ancient + near, providers=("stockx",), sizes=("9",))

    downsample_snapshots(NOW, lookback_days=7)

    assert PriceSnapshot.objects.filter(captured_at__in=ancient).count() == len(ancient)
    assert PriceSnapshot.objects.filter(captured_at__in=near).count() == 1
