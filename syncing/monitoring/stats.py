"""Duration percentiles: exact over raw attempts, approximate over hourly rollups.

Exact: ``percentile_cont`` (linear interpolation between the two nearest ranks), computed by
PostgreSQL's ``percentile_cont(...) WITHIN GROUP (ORDER BY duration_ms)`` there and by
``percentile_cont`` below elsewhere (SQLite); both give the same numbers.

Approximate (rollups): each rollup keeps counts per fixed duration bucket whose bounds grow
by a factor of 1.25 (1 ms .. 1 h). Merging rollups adds the counts; a percentile is found
in its bucket and interpolated linearly between the bucket's bounds (the top one capped by
the largest duration seen). The error is at most one bucket's width: within 25% of the true
value, usually far less; no t-digest needed and rollups merge exactly.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import connection
from django.db.models import Q

from syncing.models import SyncAttempt


def _bounds() -> list[int]:
    bounds, value = [], 1.0
    while value < 3_600_000:
        edge = int(round(value))
        if not bounds or edge > bounds[-1]:
            bounds.append(edge)
        value *= 1.25
    bounds.append(3_600_000)
    return bounds


# Bucket k holds durations d with BUCKET_BOUNDS_MS[k-1] <= d < BUCKET_BOUNDS_MS[k];
# bucket 0 is d < 1 ms and the last bucket is d >= 1 h. k == bisect_right(bounds, d),
# which is also PostgreSQL's width_bucket(d, bounds-array).
BUCKET_BOUNDS_MS: list[int] = _bounds()
BUCKET_COUNT = len(BUCKET_BOUNDS_MS) + 1
QUANTILES = (0.5, 0.95, 0.99)


def bucket_index(duration_ms: int) -> int:
    return bisect.bisect_right(BUCKET_BOUNDS_MS, duration_ms)


def percentile_cont(sorted_values: Sequence[float], q: float) -> float | None:
    """The q-quantile of sorted values, interpolated like SQL's percentile_cont."""
    n = len(sorted_values)
    if not n:
        return None
    position = q * (n - 1)
    low = math.floor(position)
    high = min(low + 1, n - 1)
    fraction = position - low
    return float(sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction)


def merge_buckets(histograms: Iterable[Sequence[int]]) -> list[int]:
    merged = [0] * BUCKET_COUNT
    for histogram in histograms:
        for index, count in enumerate(histogram):
            if count:
                merged[index] += count
    return merged


def percentile_from_buckets(
    buckets: Sequence[int], q: float, max_ms: float | None = None
) -> float | None:
    """Approximate q-quantile (ms) of the durations counted in ``buckets``."""
    total = sum(buckets)
    if not total:
        return None
    target = q * total
    seen = 0
    for index, count in enumerate(buckets):
        if not count:
            continue
        if seen + count >= target:
            low = BUCKET_BOUNDS_MS[index - 1] if index else 0
            high = BUCKET_BOUNDS_MS[index] if index < len(BUCKET_BOUNDS_MS) else (max_ms or low)
            if max_ms is not None:
                high = min(high, max_ms)
                low = min(low, high)
            return low + (high - low) * ((target - seen) / count)
        seen += count
    return float(max_ms or 0)


def attempt_percentiles(
    since: datetime, until: datetime, *, kind: str | None = None
) -> dict[tuple[str, str], dict]:
    """Exact duration percentiles of raw attempts per (kind, tier) in [since, until).

    Returns {(kind, tier): {"count": n, "p50": ms, "p95": ms, "p99": ms}}.
    """
    filters = Q(started_at__gte=since, started_at__lt=until)
    if kind:
        filters &= Q(kind=kind)
    qs = SyncAttempt.objects.filter(filters)
    if connection.vendor == "postgresql":
        return _percentiles_postgres(qs)
    groups: dict[tuple[str, str], list[int]] = {}
    for kind_name, tier, duration in qs.values_list("kind", "tier", "duration_ms").order_by():
        groups.setdefault((kind_name, tier), []).append(duration)
    result = {}
    for key, values in groups.items():
        values.sort()
        result[key] = {"count": len(values)} | {
            f"p{round(q * 100)}": percentile_cont(values, q) for q in QUANTILES
        }
    return result


def _percentiles_postgres(qs) -> dict[tuple[str, str], dict]:
    inner, params = qs.values("kind", "tier", "duration_ms").order_by().query.sql_with_params()
    sql = (
        "SELECT kind, tier, count(*), percentile_cont(%s::float8[]) WITHIN GROUP "  # noqa: S608
        f"(ORDER BY duration_ms) FROM ({inner}) AS a GROUP BY kind, tier"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(QUANTILES), *params])
        rows = cursor.fetchall()
    return {
        (kind, tier): {"count": count}
        | {f"p{round(q * 100)}": value for q, value in zip(QUANTILES, values, strict=True)}
        for kind, tier, count, values in rows
    }
