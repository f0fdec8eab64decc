"""Hourly rollups of attempts, and pruning attempts past their retention.

``rollup_attempts`` recomputes whole hours (delete + insert in one transaction), so running
it again is harmless; it starts one hour before the newest rollup (attempts are written when
they finish, a little after they start) and catches up after any downtime. ``prune`` removes
attempts older than ``settings.SYNC_ATTEMPT_RETENTION_DAYS``, rolling their hours up first if
that never happened: on PostgreSQL by dropping whole daily partitions
(syncing.monitoring.partitions), elsewhere by deleting in batches (short locks).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, IntegerField, Max, Min, Sum, Value, When
from django.db.models.functions import TruncHour
from django.utils import timezone

from syncing.models import ChunkRun, SyncAttempt
from syncing.monitoring import partitions
from syncing.monitoring.models import AttemptRollup
from syncing.monitoring.stats import BUCKET_BOUNDS_MS, BUCKET_COUNT

logger = logging.getLogger("syncing.monitoring")

PRUNE_BATCH = 10_000
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class PruneReport:
    attempts: int
    rollups: int


def hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def rollup_attempts(since: datetime | None = None, until: datetime | None = None) -> int:
    """(Re)compute the rollups of every hour in [since, until); returns rows written.

    Default window: from an hour before the newest rollup (or the oldest attempt) to the end
    of the current hour.
    """
    now = timezone.now()
    if since is None:
        newest = AttemptRollup.objects.aggregate(h=Max("hour"))["h"]
        if newest is not None:
            since = newest - HOUR
        else:
            oldest = SyncAttempt.objects.aggregate(s=Min("started_at"))["s"]
            if oldest is None:
                return 0
            since = oldest
    since = hour_floor(since)
    until = until or hour_floor(now) + HOUR
    rows = _aggregate(since, until)
    with transaction.atomic():
        AttemptRollup.objects.filter(hour__gte=since, hour__lt=until).delete()
        AttemptRollup.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def _aggregate(since: datetime, until: datetime) -> list[AttemptRollup]:
    """One GROUP BY over the window, down to (hour, kind, tier, outcome, reason, bucket)."""
    qs = SyncAttempt.objects.filter(started_at__gte=since, started_at__lt=until).order_by()
    keys = ("hour", "kind", "tier", "outcome", "reason", "bucket")
    grouped = (
        qs.annotate(hour=TruncHour("started_at"), bucket=_bucket_expression())
        .values(*keys)
        .annotate(
            n=Count("pk"),
            duration_sum=Sum("duration_ms"),
            duration_max=Max("duration_ms"),
            bytes_sum=Sum("bytes"),
            changed_sum=Sum("items_changed"),
            retries_sum=Sum("retries"),
        )
    )
    rollups: dict[tuple, AttemptRollup] = {}
    for row in grouped:
        key = tuple(row[k] for k in keys[:-1])
        rollup = rollups.get(key)
        if rollup is None:
            rollup = rollups[key] = AttemptRollup(
                hour=row["hour"],
                kind=row["kind"],
                tier=row["tier"],
                outcome=row["outcome"],
                reason=row["reason"],
                duration_buckets=[0] * BUCKET_COUNT,
            )
        rollup.count += row["n"]
        rollup.duration_sum_ms += row["duration_sum"] or 0
        rollup.duration_max_ms = max(rollup.duration_max_ms, row["duration_max"] or 0)
        rollup.bytes += row["bytes_sum"] or 0
        rollup.items_changed += row["changed_sum"] or 0
        rollup.retries += row["retries_sum"] or 0
        rollup.duration_buckets[min(int(row["bucket"]), BUCKET_COUNT - 1)] += row["n"]
    return list(rollups.values())


def _bucket_expression():
    if connection.vendor == "postgresql":
        from django.db.models import Func

        bounds = "ARRAY[" + ",".join(str(b) for b in BUCKET_BOUNDS_MS) + "]"
        return Func(
            "duration_ms",
            template=f"width_bucket(%(expressions)s, {bounds})",
            output_field=IntegerField(),
        )
    whens = [
        When(duration_ms__lt=bound, then=Value(index))
        for index, bound in enumerate(BUCKET_BOUNDS_MS)
    ]
    return Case(*whens, default=Value(len(BUCKET_BOUNDS_MS)), output_field=IntegerField())


def prune(now: datetime | None = None) -> PruneReport:
    """Remove attempts past retention (after making sure their hours are rolled up) and
    rollups past ``SYNC_ROLLUP_RETENTION_DAYS`` (default 400).

    PostgreSQL (partitioned by day, syncing.monitoring.partitions): the next days'
    partitions are made and each day past retention is dropped whole, so an attempt is kept
    between SYNC_ATTEMPT_RETENTION_DAYS and one day more. Elsewhere: deleted in batches.
    Expired manual-sync uses and API tokens go too (a request checks only its own token)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.SYNC_ATTEMPT_RETENTION_DAYS)
    _roll_up_before(cutoff)
    if partitions.partitioned():
        rotation = partitions.rotate(
            now,
            cutoff,
            days_ahead=settings.SYNC_ATTEMPT_PARTITION_DAYS_AHEAD,
            batch=PRUNE_BATCH,
        )
        deleted = rotation.rows_dropped + rotation.rows_deleted
    else:
        deleted = delete_in_batches(cutoff)
    delete_in_batches(cutoff, model=ChunkRun)  # capacity's chunk records age with attempts
    from syncing.allowances import prune_manual_sync_uses

    prune_manual_sync_uses(now)
    from syncing.token_auth import delete_expired_tokens

    delete_expired_tokens(now)
    keep_days = settings.SYNC_ROLLUP_RETENTION_DAYS
    rollups = AttemptRollup.objects.filter(hour__lt=now - timedelta(days=keep_days)).delete()[0]
    if deleted or rollups:
        logger.info("pruned %d attempt(s) before %s and %d old rollup(s)", deleted, cutoff, rollups)
    return PruneReport(attempts=deleted, rollups=rollups)


def _roll_up_before(cutoff: datetime) -> None:
    """Roll up the hours of attempts past ``cutoff`` if that never happened."""
    oldest = SyncAttempt.objects.filter(started_at__lt=cutoff).aggregate(s=Min("started_at"))["s"]
    if oldest is None:
        return
    rolled = AttemptRollup.objects.filter(hour=hour_floor(oldest)).exists()
    if not rolled:
        rollup_attempts(since=oldest, until=hour_floor(cutoff) + HOUR)


def delete_in_batches(cutoff: datetime, batch: int = PRUNE_BATCH, *, model=SyncAttempt) -> int:
    """Delete attempts (or ``model``'s rows, ChunkRun) started before ``cutoff``, ``batch``
    rows per statement (short locks); the attempts' path on databases without partitions."""
    deleted = 0
    while True:
        pks = list(
            model.objects.filter(started_at__lt=cutoff)
            .order_by()
            .values_list("pk", flat=True)[:batch]
        )
        if not pks:
            return deleted
        deleted += model.objects.filter(pk__in=pks).delete()[0]


def rollup_series(
    since: datetime, until: datetime, *, step: str = "hour", kind: str = ""
) -> list[dict]:
    """Per hour or day in [since, until): counts by outcome, merged duration buckets, sums.

    Returns one dict per period (empty periods included, oldest first): {"start", "count",
    "outcomes": {outcome: n}, "buckets": [...], "max_ms", "bytes", "items_changed", "retries"}.
    """
    qs = AttemptRollup.objects.filter(hour__gte=since, hour__lt=until)
    if kind:
        qs = qs.filter(kind=kind)
    periods: dict[datetime, dict] = {}
    width = HOUR if step == "hour" else timedelta(days=1)
    start = (
        hour_floor(since)
        if step == "hour"
        else since.replace(hour=0, minute=0, second=0, microsecond=0)
    )
    moment = start
    while moment < until:
        periods[moment] = _empty_period(moment)
        moment += width
    fields = (
        "hour",
        "outcome",
        "count",
        "duration_buckets",
        "duration_max_ms",
        "bytes",
        "items_changed",
        "retries",
    )
    for hour, outcome, count, buckets, max_ms, bytes_, changed, retries in qs.values_list(*fields):
        key = hour_floor(hour) if step == "hour" else hour.replace(hour=0)
        period = periods.setdefault(key, _empty_period(key))
        period["count"] += count
        period["outcomes"][outcome] += count
        for index, n in enumerate(buckets):
            if n:
                period["buckets"][index] += n
        period["max_ms"] = max(period["max_ms"], max_ms)
        period["bytes"] += bytes_
        period["items_changed"] += changed
        period["retries"] += retries
    return [periods[k] for k in sorted(periods)]


def _empty_period(start: datetime) -> dict:
    return {
        "start": start,
        "count": 0,
        "outcomes": defaultdict(int),
        "buckets": [0] * BUCKET_COUNT,
        "max_ms": 0,
        "bytes": 0,
        "items_changed": 0,
        "retries": 0,
    }
