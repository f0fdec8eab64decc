"""When an item is next due: phase-keeping intervals and first-sync jitter.

Waits after failures are syncing.backoff's (the one retry policy of the engine)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta


def next_due_after_success(
    *, previous_due: datetime, interval: timedelta | None, now: datetime, first_sync: bool
) -> datetime | None:
    """The next due time after a successful sync, keeping the item's phase.

    ``previous_due + interval``, moved forward by whole intervals past ``now`` if late, so
    periods do not stretch by the sync's own delay and items claimed together do not
    clump. A first sync picks a random phase within the interval instead, which spreads
    new items (a thousand feeds added at once) over the whole period. None for tiers
    without an interval (on demand only).

    An on-demand sync (the item was not due yet: ``previous_due > now``) leaves the periodic
    schedule where it was, so "sync now" never pushes the next periodic sync later.
    """
    if interval is None or interval <= timedelta(0):
        return None
    if previous_due > now and not first_sync:
        # Capped at one interval: a success after a long failure backoff restores the period.
        return min(previous_due, now + interval)
    if first_sync:
        return now + interval * random.random()
    due = previous_due + interval
    if due <= now:
        missed = (now - due) // interval + 1
        due += interval * missed
    return due
