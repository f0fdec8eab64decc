"""When an item is next due: phase-keeping intervals and first-sync jitter.

Waits after failures are syncing.backoff's (the one retry policy of the engine). Kinds
that opt in to adaptive polling get an interval from their own change rate instead
(``adaptive_after_success``, syncing.adaptive)."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from syncing.adaptive import (
    ChangeStats,
    Signal,
    allocate,
    as_signal,
    estimate_rate,
    observe,
    planning_rate,
)

if TYPE_CHECKING:
    from syncing.kinds import Kind
    from syncing.models import SyncedItem

logger = logging.getLogger("syncing.schedule")


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


def adaptive_after_success(
    kind: Kind,
    item: SyncedItem,
    *,
    interval: timedelta | None,
    changed: bool,
    now: datetime,
    signal: float | Signal | None = None,
) -> dict | None:
    """For a kind with ``Kind.adaptive``: the item's learnt change rate and its next due time
    after a successful check (``changed``: it saw a change since the previous successful one).

    Returns the fields to write (change_stats, change_rate, effective_interval,
    next_sync_at), or None where the tier's fixed rule applies: a kind that did not opt in,
    a tier without an interval, an item's first success (it only sets the baseline). A
    failing kind signal counts as no signal. ``signal``: the kind's signal when the caller
    has it already (``kind_signals``); None asks the kind for this item.
    """
    policy = kind.adaptive
    if policy is None or interval is None or interval <= timedelta(0):
        return None
    if item.last_success_at is None:
        return None
    stats = observe(
        ChangeStats.from_json(item.change_stats),
        hours=(now - item.last_success_at).total_seconds() / 3600,
        changed=changed,
        memory_hours=policy.memory.total_seconds() / 3600,
    )
    rate = planning_rate(stats, policy)
    if signal is None:
        signal = _signal(kind, item, now)
    effective = allocate(rate, base=interval, policy=policy, changed=changed, signal=signal)
    due = now + effective
    if item.next_sync_at > now:
        due = min(item.next_sync_at, due)  # on demand: never later than it was due
    return {
        "change_stats": stats.to_json(),
        "change_rate": estimate_rate(stats),
        "effective_interval": effective,
        "next_sync_at": due,
    }


def _signal(kind: Kind, item: SyncedItem, now: datetime) -> Signal:
    if kind.adaptive_signal is None:
        return Signal()
    try:
        return as_signal(kind.adaptive_signal(item, now))
    except Exception:
        logger.exception("%s #%s: adaptive signal failed", kind.name, item.pk)
        return Signal()


def kind_signals(kind: Kind, pairs: list[tuple[SyncedItem, datetime]]) -> list[Signal | None]:
    """The kind's adaptive signal for many (item, now) pairs in one call when the kind has a
    batch form (``Adaptive.signal_many``); None for each where it has not, or where the
    batch call failed (``adaptive_after_success`` then asks per item)."""
    many = kind.adaptive_signal_many
    if many is None or not pairs:
        return [None] * len(pairs)
    try:
        signals = [as_signal(value) for value in many(pairs)]
    except Exception:
        logger.exception("%s: adaptive signals for %d item(s) failed", kind.name, len(pairs))
        return [None] * len(pairs)
    return signals if len(signals) == len(pairs) else [None] * len(pairs)
