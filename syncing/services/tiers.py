"""Tier rows: defaults from the kinds registry, and a small per-process cache of their
intervals and adaptive thresholds."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from syncing.kinds import Kind, UnknownKind, all_kinds, get_kind
from syncing.models import Tier

logger = logging.getLogger("syncing.tiers")

_CACHE_SECONDS = 30.0
# A tier's calibrated threshold moves a little with each dispatch run: read more often.
_THRESHOLD_CACHE_SECONDS = 5.0
_columns: dict[tuple[str, str], tuple[float, dict]] = {}
_names: dict[str, tuple[float, dict[str, str]]] = {}


def _tier_column(kind: str, column: str, max_age: float) -> dict:
    """Tier name -> ``column`` for one kind, cached for ``max_age`` seconds per process."""
    hit = _columns.get((kind, column))
    if hit and time.monotonic() - hit[0] < max_age:
        return hit[1]
    values = dict(Tier.objects.filter(kind=kind).values_list("name", column))
    _columns[(kind, column)] = (time.monotonic(), values)
    return values


def tier_intervals(kind: str) -> dict[str, timedelta | None]:
    """Tier name -> interval for one kind, cached for a few seconds per process."""
    return _tier_column(kind, "interval", _CACHE_SECONDS)


def tier_thresholds(kind: str) -> dict[str, float | None]:
    """Tier name -> its calibrated adaptive threshold (None: not calibrated yet, the policy's
    own) for one kind, cached for a few seconds per process."""
    return _tier_column(kind, "adaptive_threshold", _THRESHOLD_CACHE_SECONDS)


def forget_cached_intervals() -> None:
    """Drop the cached intervals, thresholds and names (a tier changed; between tests)."""
    _columns.clear()
    _names.clear()


def tier_name(kind: str, key: str) -> str:
    """The current name of the tier whose stable key is ``key`` (itself when unknown)."""
    hit = _names.get(kind)
    if not hit or time.monotonic() - hit[0] >= _CACHE_SECONDS:
        hit = (time.monotonic(), dict(Tier.objects.filter(kind=kind).values_list("key", "name")))
        _names[kind] = hit
    return hit[1].get(key, key)


def interval_name(interval: timedelta | None) -> str:
    """The short name of an interval, as tiers are named: 1m, 15m, 6h, 1d ("" for none)."""
    if not interval:
        return ""
    seconds = int(interval.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def name_after_change(before: Tier, after: Tier) -> str:
    """The tier's name once saved: a tier named after its interval (15m) is renamed with a
    new interval (30m), unless staff gave it a name of their own (hot) or renamed it in the
    same change, or another tier of its kind already has that name."""
    if after.name != before.name or after.interval == before.interval:
        return after.name
    if before.name != interval_name(before.interval):
        return after.name
    wanted = interval_name(after.interval)
    taken = Tier.objects.filter(kind=after.kind, name=wanted).exclude(pk=after.pk).exists()
    return after.name if not wanted or taken else wanted


def ensure_default_tiers(**kwargs) -> list[Tier]:
    """Create the Tier rows every registered kind declares, leaving existing rows alone.

    Runs after every ``migrate``: a new kind gets its tiers, and staff edits (interval,
    batch limit, enabled, a new name) survive deploys: rows are found by their stable key.
    """
    created = []
    for kind in all_kinds():
        for spec in kind.tiers:
            if Tier.objects.filter(kind=kind.name, key=spec.name).exists():
                continue
            tier, was_created = Tier.objects.get_or_create(
                kind=kind.name,
                name=spec.name,
                defaults={
                    "key": spec.name,
                    "interval": spec.interval,
                    "batch_limit": spec.batch_limit,
                    "dispatch_every": spec.dispatch_every,
                },
            )
            if was_created:
                created.append(tier)
    # Saving each new tier through the signal creates its periodic task; existing ones are
    # brought in step as well in case the beat tables were reset.
    from syncing.services.beat import sync_all_periodic_tasks

    sync_all_periodic_tasks()
    forget_cached_intervals()
    return created


def tier_changed(before: Tier, after: Tier) -> None:
    """Carry the items of a renamed or re-timed tier along (inside the saving transaction).

    Items name their tier, so a rename updates them to the new name. A shorter interval
    scales each item's wait by new/old, so items keep their spread and none waits longer
    than the new interval; a longer one leaves due times alone (nothing gets later than
    promised; the new interval applies from each item's next sync).
    """
    kind = _kind_or_none(after.kind)
    forget_cached_intervals()
    if kind is None:
        return
    items = kind.model_class.objects
    if before.name != after.name:
        moved = items.filter(tier=before.name).update(tier=after.name)
        logger.info("tier %s renamed to %s: %d item(s) moved", before, after, moved)
    if before.interval and after.interval and after.interval < before.interval:
        _scale_waits(kind, after.name, after.interval / before.interval)


def _kind_or_none(name: str) -> Kind | None:
    try:
        return get_kind(name)
    except UnknownKind:
        return None


def _scale_waits(kind: Kind, tier: str, ratio: float) -> None:
    now = timezone.now()
    model = kind.model_class
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(model._meta.db_table)
        sql = f"""
            UPDATE {table} SET next_sync_at = %s + (next_sync_at - %s) * %s
            WHERE tier = %s AND next_sync_at > %s
        """  # noqa: S608 - identifiers from model metadata, values are parameters
        with connection.cursor() as cursor:
            cursor.execute(sql, [now, now, ratio, tier, now])
        return
    later = model.objects.filter(tier=tier, next_sync_at__gt=now).only("pk", "next_sync_at")
    batch = []
    for item in later.iterator(chunk_size=1000):
        item.next_sync_at = now + (item.next_sync_at - now) * ratio
        batch.append(item)
    model.objects.bulk_update(batch, ["next_sync_at"], batch_size=1000)
