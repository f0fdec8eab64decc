from datetime import timedelta

import pytest
from django.utils import timezone

from syncing.models import SyncAttempt
from syncing.monitoring.models import AttemptRollup
from syncing.monitoring.rollups import hour_floor, prune, rollup_attempts, rollup_series
from syncing.monitoring.stats import bucket_index, percentile_from_buckets

PROBE = "syncing.probe"


def attempt(started_at, duration_ms=100, outcome="ok", reason="", tier="5m", **fields):
    return SyncAttempt(
        kind=PROBE,
        item_id=fields.pop("item_id", 1),
        tier=tier,
        started_at=started_at,
        duration_ms=duration_ms,
        outcome=outcome,
        reason=reason,
        **fields,
    )


@pytest.mark.django_db
def test_rollup_counts_sums_and_buckets_per_hour_and_key():
    hour = hour_floor(timezone.now()) - timedelta(hours=3)
    SyncAttempt.objects.bulk_create(
        [
            attempt(hour + timedelta(minutes=1), 100, bytes=10, items_changed=2, retries=1),
            attempt(hour + timedelta(minutes=59), 300, bytes=30, items_changed=1),
            attempt(hour + timedelta(minutes=2), 5000, outcome="failed", reason="timeout"),
            attempt(hour + timedelta(hours=1, minutes=5), 50),
        ]
    )

    written = rollup_attempts(since=hour - timedelta(hours=1))

    assert written == 3
    ok = AttemptRollup.objects.get(hour=hour, outcome="ok")
    assert (ok.kind, ok.tier, ok.reason, ok.count) == (PROBE, "5m", "", 2)
    assert (ok.duration_sum_ms, ok.duration_max_ms) == (400, 300)
    assert (ok.bytes, ok.items_changed, ok.retries) == (40, 3, 1)
    assert ok.duration_buckets[bucket_index(100)] == 1
    assert ok.duration_buckets[bucket_index(300)] == 1
    assert sum(ok.duration_buckets) == 2
    failed = AttemptRollup.objects.get(hour=hour, outcome="failed")
    assert (failed.reason, failed.count) == ("timeout", 1)
    assert AttemptRollup.objects.get(hour=hour + timedelta(hours=1)).count == 1

    # Running again changes nothing (whole hours are recomputed).
    rollup_attempts(since=hour - timedelta(hours=1))
    assert AttemptRollup.objects.count() == 3
    assert AttemptRollup.objects.get(hour=hour, outcome="ok").count == 2


@pytest.mark.django_db
def test_default_window_catches_up_from_the_newest_rollup():
    now = timezone.now()
    SyncAttempt.objects.bulk_create([attempt(now - timedelta(hours=h)) for h in (0, 5, 30)])
    rollup_attempts()
    assert AttemptRollup.objects.count() == 3
    SyncAttempt.objects.bulk_create([attempt(now)])
    rollup_attempts()
    assert AttemptRollup.objects.get(hour=hour_floor(now)).count == 2


@pytest.mark.django_db
def test_series_merges_rollups_and_approximates_percentiles():
    hour = hour_floor(timezone.now()) - timedelta(hours=2)
    SyncAttempt.objects.bulk_create(
        [
            attempt(hour + timedelta(seconds=i), duration_ms=i + 1, tier="1h" if i % 2 else "5m")
            for i in range(1000)
        ]
    )
    rollup_attempts(since=hour)
    series = rollup_series(hour, hour + timedelta(hours=2), step="hour")
    assert [p["count"] for p in series] == [1000, 0]
    first = series[0]
    assert first["outcomes"]["ok"] == 1000
    p95 = percentile_from_buckets(first["buckets"], 0.95, first["max_ms"])
    assert 950 * 0.8 < p95 < 950 * 1.25


@pytest.mark.django_db
def test_prune_deletes_attempts_past_retention_and_keeps_their_rollups(settings):
    settings.SYNC_ATTEMPT_RETENTION_DAYS = 7
    now = timezone.now()
    old = [attempt(now - timedelta(days=8, minutes=i)) for i in range(5)]
    recent = [attempt(now - timedelta(days=6)), attempt(now - timedelta(minutes=1))]
    SyncAttempt.objects.bulk_create(old + recent)

    report = prune(now)

    assert report.attempts == 5
    assert SyncAttempt.objects.count() == 2
    # The pruned hours were rolled up first, so the 30-day chart keeps them.
    assert (
        sum(
            AttemptRollup.objects.filter(hour__lt=now - timedelta(days=7)).values_list(
                "count", flat=True
            )
        )
        == 5
    )
    assert prune(now).attempts == 0
