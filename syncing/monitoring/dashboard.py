"""What the staff dashboard shows, read from rollups (charts), items (freshness), the
broker (queues), alerts and the last day's attempts (slowest and most failing items)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Max
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from syncing.kinds import UnknownKind, get_kind
from syncing.models import Outcome, SyncAttempt
from syncing.monitoring.alerts import _words
from syncing.monitoring.charts import OUTCOME_COLORS, line_chart, stacked_bars
from syncing.monitoring.freshness import freshness_report
from syncing.monitoring.models import Alert
from syncing.monitoring.queues import queue_depths
from syncing.monitoring.rollups import HOUR, hour_floor, rollup_series
from syncing.monitoring.stats import percentile_from_buckets
from syncing.monitoring.workers import live_workers

TOP_ITEMS = 10


def dashboard_context(now: datetime | None = None, *, kind: str = "") -> dict:
    now = now or timezone.now()
    end = hour_floor(now) + HOUR
    hourly = rollup_series(end - timedelta(hours=24), end, step="hour", kind=kind)
    day_end = hour_floor(now).replace(hour=0) + timedelta(days=1)
    daily = rollup_series(day_end - timedelta(days=30), day_end, step="day", kind=kind)
    return {
        "now": now,
        "kind_filter": kind,
        "freshness": [_freshness_row(f) for f in freshness_report(now, kind=kind or None)],
        "charts": {
            "durations_24h": _duration_chart(hourly, "%H:00", "Duration p50/p95, last 24 h"),
            "durations_30d": _duration_chart(daily, "%m-%d", "Duration p50/p95, last 30 days"),
            "outcomes_24h": _outcome_chart(hourly, "%H:00", "Attempts by outcome, last 24 h"),
            "outcomes_30d": _outcome_chart(daily, "%m-%d", "Attempts by outcome, last 30 days"),
        },
        "totals_24h": _totals(hourly),
        "queues": queue_depths(),
        "workers": live_workers(),
        "alerts": list(Alert.objects.filter(resolved_at__isnull=True).select_related("rule")),
        "slowest": slowest_items(now - timedelta(hours=24), kind=kind),
        "failing": most_failing_items(now - timedelta(hours=24), kind=kind),
    }


def _freshness_row(f) -> dict:
    rate = f.on_time_rate
    level = "ok" if rate is None or rate >= 99 else ("warn" if rate >= 95 else "bad")
    if f.failing and level == "ok":
        # Failing items can still be on time (their last success is recent, or their first
        # sync is not due yet): "100% on time" is not all well while some fail.
        level = "warn"
    return {
        "f": f,
        "rate": rate,
        "level": level,
        "stalest": _words(f.stalest_age),
        "interval": _words(f.interval) if f.interval else "on demand",
    }


def _duration_chart(periods, fmt, title):
    labels = [p["start"].strftime(fmt) for p in periods]
    p50 = [_pct(p, 0.5) for p in periods]
    p95 = [_pct(p, 0.95) for p in periods]
    return line_chart(
        labels, [("p50", p50, "#1565c0"), ("p95", p95, "#ef6c00")], unit=" ms", title=title
    )


def _pct(period, q):
    return (
        percentile_from_buckets(period["buckets"], q, period["max_ms"]) if period["count"] else None
    )


def _outcome_chart(periods, fmt, title):
    labels = [p["start"].strftime(fmt) for p in periods]
    stacks = [
        (name, [p["outcomes"].get(name, 0) for p in periods], color)
        for name, color in OUTCOME_COLORS.items()
    ]
    return stacked_bars(labels, stacks, title=title)


def _totals(periods) -> dict:
    count = sum(p["count"] for p in periods)
    failed = sum(p["outcomes"].get(Outcome.FAILED, 0) for p in periods)
    return {
        "count": count,
        "failed": failed,
        "failed_rate": 100.0 * failed / count if count else None,
        "bytes": sum(p["bytes"] for p in periods),
        "items_changed": sum(p["items_changed"] for p in periods),
        "retries": sum(p["retries"] for p in periods),
    }


def admin_link(kind_name: str, item_id: int) -> str | None:
    try:
        meta = get_kind(kind_name).model_class._meta
        return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[item_id])
    except (UnknownKind, LookupError, NoReverseMatch):
        return None


def slowest_items(since: datetime, *, kind: str = "") -> list[dict]:
    """The slowest attempts of the window, one per item."""
    qs = SyncAttempt.objects.filter(started_at__gte=since)
    if kind:
        qs = qs.filter(kind=kind)
    rows, seen = [], set()
    for a in qs.order_by("-duration_ms").only(
        "kind", "item_id", "duration_ms", "outcome", "reason", "started_at"
    )[: TOP_ITEMS * 5]:
        if (a.kind, a.item_id) in seen:
            continue
        seen.add((a.kind, a.item_id))
        rows.append({"attempt": a, "url": admin_link(a.kind, a.item_id)})
        if len(rows) == TOP_ITEMS:
            break
    return rows


def most_failing_items(since: datetime, *, kind: str = "") -> list[dict]:
    qs = SyncAttempt.objects.filter(started_at__gte=since, outcome=Outcome.FAILED)
    if kind:
        qs = qs.filter(kind=kind)
    rows = (
        qs.values("kind", "item_id")
        .annotate(failures=Count("pk"), last=Max("started_at"), reason=Max("reason"))
        .order_by("-failures")[:TOP_ITEMS]
    )
    return [dict(r, url=admin_link(r["kind"], r["item_id"])) for r in rows]
