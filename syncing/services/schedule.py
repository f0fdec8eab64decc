"""When an item is next due: phase-keeping intervals and first-sync jitter.

Waits after failures are syncing.backoff's (the one retry policy of the engine). Kinds
that opt in to adaptive polling get an interval from their own change rate instead
(``adaptive_after_success``, syncing.adaptive)."""

from __future__ import annotations

import logging
import math
import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import F

from syncing.adaptive import (
    Calibration,
    ChangeStats,
    Signal,
    allocate,
    as_signal,
    calibrate,
    estimate_rate,
    late_evidence,
    observe,
    planning_rate,
)

if TYPE_CHECKING:
    from syncing.kinds import Kind
    from syncing.models import SyncedItem, Tier

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
    threshold: float | None = None,
    seen: int | None = None,
) -> dict | None:
    """For a kind with ``Kind.adaptive``: the item's learnt change rate and its next due time
    after a successful check (``changed``: it saw a change since the previous successful one).

    Returns the fields to write (change_stats, change_rate, effective_interval, next_sync_at)
    and ``late_evidence`` ((changes, late) for the tier's calibration, by late_evidence; the
    caller pops it), or None where the tier's fixed rule applies: a kind that did not opt
    in, a tier without an interval, an item's first success (it only sets the baseline).
    A failing kind signal counts as none. ``signal``: the kind's signal if the caller has it
    (``kind_signals``; None: asked for this item). ``threshold``: the tier's calibrated one
    (None: the policy's). ``seen``: the changes the sync saw (None or 0: unknown, by rate).
    """
    policy = kind.adaptive
    if policy is None or not interval or interval <= timedelta(0) or not item.last_success_at:
        return None
    hours = (now - item.last_success_at).total_seconds() / 3600
    stats = observe(
        ChangeStats.from_json(item.change_stats),
        hours=hours,
        changed=changed,
        memory_hours=policy.memory.total_seconds() / 3600,
    )
    rate = planning_rate(stats, policy, base=interval)
    if signal is None:
        signal = _signal(kind, item, now)
    signal = as_signal(signal)
    effective = allocate(
        rate, base=interval, policy=policy, changed=changed, signal=signal, threshold=threshold
    )
    due = now + effective
    if item.next_sync_at > now:
        due = min(item.next_sync_at, due)  # on demand: never later than it was due
    estimate = estimate_rate(stats)
    return {
        "change_stats": stats.to_json(),
        "change_rate": estimate,
        "effective_interval": effective,
        "next_sync_at": due,
        "late_evidence": late_evidence(
            estimate,
            base=interval,
            policy=policy,
            hours=hours,
            changed=changed,
            local_hour=signal.local_hour,
            seen=seen or None,
            checks=stats.n,
            watched=stats.c + stats.u,
        ),
    }


def add_late_evidence(kind: Kind, evidence: dict[str, tuple[float, float]]) -> None:
    """Add finished checks' late evidence, summed per tier name, to the tiers' totals: one
    UPDATE per tier (a flush's worth), the row locked only for that statement."""
    from syncing.models import Tier

    for tier_name, (changes, late) in evidence.items():
        if changes <= 0 and late <= 0:
            continue
        Tier.objects.filter(kind=kind.name, name=tier_name).update(
            adaptive_changes=F("adaptive_changes") + changes,
            adaptive_late=F("adaptive_late") + late,
        )


def calibrate_tier(kind: Kind, tier: Tier, now: datetime) -> Tier | None:
    """Move the tier's calibration to ``now`` (a dispatch run's step): its totals decayed
    over the time since the last step and its threshold moved by ``calibrate``. The write
    is one conditional UPDATE: the totals as ``F() * keep`` (evidence that finishes add
    meanwhile is kept), and nothing if another run moved it since this one read it. The
    first run only starts the clock. None when the kind has no p95 policy for the tier."""
    from syncing.models import Tier

    policy = kind.adaptive
    if policy is None or policy.rule != "p95" or not tier.interval:
        return None
    since = tier.adaptive_calibrated_at
    rows = Tier.objects.filter(pk=tier.pk, adaptive_calibrated_at=since)
    if since is None:
        rows.update(adaptive_calibrated_at=now)
        tier.adaptive_calibrated_at = now
        return tier
    hours = (now - since).total_seconds() / 3600
    if hours <= 0:
        return tier
    state = calibrate(
        Calibration(tier.adaptive_threshold, tier.adaptive_late, tier.adaptive_changes),
        late=0.0,
        changes=0.0,
        hours=hours,
        base=tier.interval,
        policy=policy,
    )
    memory = policy.calibration_memory.total_seconds() / 3600
    keep = math.exp(-hours / memory) if memory > 0 else 0.0
    if rows.update(
        adaptive_threshold=state.threshold,
        adaptive_late=F("adaptive_late") * keep,
        adaptive_changes=F("adaptive_changes") * keep,
        adaptive_calibrated_at=now,
    ):
        tier.adaptive_threshold = state.threshold
        tier.adaptive_late, tier.adaptive_changes = state.late, state.changes
        tier.adaptive_calibrated_at = now
    return tier


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
