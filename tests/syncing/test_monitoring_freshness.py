from datetime import timedelta

import pytest
from django.utils import timezone

from syncing.models import Probe, SyncAttempt
from syncing.monitoring.freshness import freshness_report
from syncing.monitoring.stats import (
    BUCKET_COUNT,
    attempt_percentiles,
    bucket_index,
    percentile_cont,
    percentile_from_buckets,
)
from tests.syncing.factories import make_probes

PROBE = "syncing.probe"


def by_tier(rows):
    return {(r.kind, r.tier): r for r in rows}


@pytest.mark.django_db
def test_on_time_rate_and_stalest_age_per_tier():
    now = timezone.now()
    # 5m tier: grace is its dispatch period (1 min), so on time = success within 6 min.
    fresh = make_probes(3, tier="5m")
    late = make_probes(1, tier="5m")
    paused = make_probes(1, tier="5m", paused=True)
    Probe.objects.filter(pk__in=[p.pk for p in fresh]).update(
        last_success_at=now - timedelta(minutes=5)
    )
    Probe.objects.filter(pk=late[0].pk).update(last_success_at=now - timedelta(minutes=40))
    Probe.objects.filter(pk=paused[0].pk).update(last_success_at=now - timedelta(days=3))
    # 1h tier: one never synced but only just due (on time), one never synced and overdue.
    make_probes(1, tier="1h", due=now)
    make_probes(1, tier="1h", due=now - timedelta(minutes=30))

    rows = by_tier(freshness_report(now, kind=PROBE))

    five = rows[(PROBE, "5m")]
    assert (five.items, five.on_time, five.late, five.paused) == (4, 3, 1, 1)
    assert five.on_time_rate == 75.0
    assert five.stalest_age == timedelta(minutes=40)  # the paused one does not count
    hour = rows[(PROBE, "1h")]
    assert (hour.items, hour.on_time) == (2, 1)
    assert hour.stalest_age == timedelta(minutes=30)
    one_minute = rows[(PROBE, "1m")]
    assert (
        one_minute.items == 0 and one_minute.on_time_rate is None and one_minute.stalest_age is None
    )


@pytest.mark.django_db
def test_a_success_just_inside_interval_plus_grace_is_on_time():
    now = timezone.now()
    inside, outside = make_probes(2, tier="5m")
    Probe.objects.filter(pk=inside.pk).update(
        last_success_at=now - timedelta(minutes=5, seconds=59)
    )
    Probe.objects.filter(pk=outside.pk).update(
        last_success_at=now - timedelta(minutes=6, seconds=1)
    )
    five = by_tier(freshness_report(now, kind=PROBE))[(PROBE, "5m")]
    assert (five.items, five.on_time) == (2, 1)


def test_percentile_cont_interpolates_like_sql():
    values = [10, 20, 30, 40, 100]
    assert percentile_cont(values, 0.5) == 30
    assert percentile_cont(values, 0.95) == pytest.approx(88.0)
    assert percentile_cont(values, 0.99) == pytest.approx(97.6)
    assert percentile_cont([], 0.5) is None
    assert percentile_cont([7], 0.99) == 7


@pytest.mark.django_db
def test_exact_percentiles_over_known_attempts():
    now = timezone.now()
    rows = [
        SyncAttempt(
            kind=PROBE,
            item_id=1,
            tier="5m",
            started_at=now - timedelta(minutes=5),
            duration_ms=d,
            outcome="ok",
        )
        for d in range(1, 101)  # 1..100 ms
    ]
    rows.append(
        SyncAttempt(
            kind=PROBE,
            item_id=2,
            tier="1h",
            started_at=now - timedelta(minutes=5),
            duration_ms=500,
            outcome="failed",
        )
    )
    # Outside the window: ignored.
    rows.append(
        SyncAttempt(
            kind=PROBE,
            item_id=1,
            tier="5m",
            started_at=now - timedelta(days=2),
            duration_ms=99_999,
            outcome="ok",
        )
    )
    SyncAttempt.objects.bulk_create(rows)

    result = attempt_percentiles(now - timedelta(hours=1), now)

    five = result[(PROBE, "5m")]
    assert five["count"] == 100
    assert five["p50"] == pytest.approx(50.5)
    assert five["p95"] == pytest.approx(95.05)
    assert five["p99"] == pytest.approx(99.01)
    assert result[(PROBE, "1h")] == {"count": 1, "p50": 500, "p95": 500, "p99": 500}


def test_bucket_percentiles_are_within_one_bucket_of_the_truth():
    durations = list(range(1, 2001))  # 1 ms .. 2 s, uniform
    buckets = [0] * BUCKET_COUNT
    for d in durations:
        buckets[bucket_index(d)] += 1
    for q in (0.5, 0.95, 0.99):
        exact = percentile_cont(durations, q)
        approx = percentile_from_buckets(buckets, q, max_ms=2000)
        assert abs(approx - exact) / exact < 0.25, (q, exact, approx)
    assert percentile_from_buckets([0] * BUCKET_COUNT, 0.5) is None


@pytest.mark.django_db
def test_on_demand_tiers_promise_no_freshness_and_raise_no_alert():
    from syncing.models import Tier

    Tier.objects.create(kind="syncing.probe", name="manual", interval=None)
    make_probes(3, tier="manual", due=timezone.now() - timedelta(days=3))
    row = by_tier(freshness_report(kind="syncing.probe"))[("syncing.probe", "manual")]
    assert row.items == 3
    assert row.on_time_rate is None
