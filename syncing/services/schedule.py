"""When an item is next due: phase-keeping intervals, first-sync jitter, backoff."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings


def next_due_after_success(
    *, previous_due: datetime, interval: timedelta | None, now: datetime, first_sync: bool
) -> datetime | None:
    """The next due time after a successful sync, keeping the item's phase.

    ``previous_due + interval``, moved forward by whole intervals past ``now`` if late, so
    periods do not stretch by the sync's own delay and items claimed together do not
    clump. A first sync picks a random phase within the interval instead, which spreads
    new items (a thousand feeds added at once) over the whole period. None for tiers
    without an interval (on demand only).
    """
    if interval is None or interval <= timedelta(0):
        return None
    if first_sync:
        return now + interval * random.random()
    due = previous_due + interval
    if due <= now:
        missed = (now - due) // interval + 1
        due += interval * missed
    return due


def backoff_delay(consecutive_failures: int, *, retry_after: float | None = None) -> timedelta:
    """How long to wait before the next try after ``consecutive_failures`` failures.

    ``min(cap, base * 2**failures)``, with the server's Retry-After as a floor.
    """
    base = settings.SYNC_BACKOFF_BASE_SECONDS
    cap = settings.SYNC_BACKOFF_CAP_SECONDS
    exponent = max(0, consecutive_failures - 1)
    seconds = min(cap, base * (2 ** min(exponent, 30)))
    if retry_after:
        seconds = max(seconds, min(float(retry_after), cap))
    return timedelta(seconds=seconds)


def short_retry_delay(try_number: int, *, base: float = 0.5, cap: float = 4.0) -> float:
    """Exponential backoff with full jitter for in-run retries (seconds)."""
    return random.uniform(0, min(cap, base * (2**try_number)))
