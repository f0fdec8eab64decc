"""Tier rows: defaults from the kinds registry, and a small per-process cache of intervals."""

from __future__ import annotations

import time
from datetime import timedelta

from syncing.kinds import all_kinds
from syncing.models import Tier

_CACHE_SECONDS = 30.0
_cache: dict[str, tuple[float, dict[str, timedelta | None]]] = {}


def tier_intervals(kind: str) -> dict[str, timedelta | None]:
    """Tier name -> interval for one kind, cached for a few seconds per process."""
    hit = _cache.get(kind)
    if hit and time.monotonic() - hit[0] < _CACHE_SECONDS:
        return hit[1]
    intervals = dict(Tier.objects.filter(kind=kind).values_list("name", "interval"))
    _cache[kind] = (time.monotonic(), intervals)
    return intervals


def forget_cached_intervals() -> None:
    _cache.clear()


def ensure_default_tiers(**kwargs) -> list[Tier]:
    """Create the Tier rows every registered kind declares, leaving existing rows alone.

    Runs after every ``migrate``: a new kind gets its tiers, and staff edits (interval,
    batch limit, enabled) survive deploys.
    """
    created = []
    for kind in all_kinds():
        for spec in kind.tiers:
            tier, was_created = Tier.objects.get_or_create(
                kind=kind.name,
                name=spec.name,
                defaults={
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
