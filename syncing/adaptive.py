"""Adaptive polling: each item's change rate learnt from its own checks, and the interval
it earns from it. Pure functions (no database, no clock): the engine calls them after each
sync (syncing.services.schedule), bench/adaptive.py in simulated time.

**Estimator** (Cho & Garcia-Molina, "Estimating Frequency of Change", 2003). A check only
shows whether *at least one* change happened since the previous check, so the naive
"changes seen / time watched" underestimates busy items (two changes between checks count
as one). For checks at a regular interval I their estimator is
``r = -log((n - X + 0.5) / (n + 0.5)) / I`` (n checks, X of them saw a change). Our checks
are irregular (the interval adapts), so we keep four exponentially decayed sums: checks n,
changed checks x, hours watched by changed checks c and by unchanged ones u. Their
irregular-interval maximum-likelihood equation ``sum_changed t/(e^(r t) - 1) = sum_unchanged t``
with the changed intervals replaced by their mean ``c/x`` solves in closed form, and with
their half-check correction it reads ``r = log((c + u + I/2) / (u + I/2)) / (c/x)``,
``I = (c + u)/n``: exactly their regular estimator when every interval is I.

Recency: before each observation the sums are multiplied by ``exp(-dt/memory)``, so a feed
that was busy last month and is quiet now drifts to its new rate within about a memory.

**Allocation** ("Effective Page Refresh Policies for Web Crawlers", 2003): with a fixed
budget of checks the best split is not proportional to the change rate. Our promise is the
time to detect a change (a change at a uniformly random moment waits I/2 on average), so
the owners' mean wait ``sum(rate_i * I_i / 2)`` under a budget ``sum(1/I_i)`` is least
when ``I_i`` is proportional to ``1/sqrt(rate_i)``: the square-root rule, sub-proportional
like theirs. Scaled so that an item changing once per tier interval T keeps T, the
interval is ``sqrt(T / rate)``: the geometric mean of the tier interval and the mean time
between changes. It is then bounded: never shorter than ``T / floor_factor`` (the very fast
changers that their freshness curve gives up on get the floor, not more), never longer than
``T * ceiling_factor`` nor ``longest`` (the plan's promise to quiet feeds). A change seen by
this check, or a signal of the kind (calendars: a check-in soon) shortens it further.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Adaptive:
    """A kind's opt-in to adaptive polling (``Kind.adaptive``) and its bounds."""

    # Shortest interval: the tier's interval divided by this.
    floor_factor: float = 4.0
    # Longest interval: the tier's interval times this, and never longer than ``longest``.
    ceiling_factor: float = 4.0
    longest: timedelta = timedelta(hours=24)
    # Recency weighting: observations older than this count e (2.7) times less.
    memory: timedelta = timedelta(days=7)
    # Until this many (decayed) checks are known, the item keeps the tier's interval.
    min_checks: float = 3.0
    # An item that changes once per this many tier intervals keeps the tier's interval
    # (the square-root rule's scale: busier items get less, quieter ones more).
    keep_at: float = 1.0
    # Or, when set, the changes per hour at which an item keeps the tier's interval
    # whatever the tier (the kind's typical rate: the same split for every plan).
    reference_rate: float | None = None
    # The interval is multiplied by this after a check that saw a change (changes cluster).
    after_change: float = 0.5
    # Dotted path to callable(item, now) -> float: the kind's own signal, a multiplier of
    # the interval (0.5: twice as often; 1.0: no opinion). None: no signal.
    signal: str | None = None
    # Dotted path to callable([(item, now), ...]) -> [float, ...]: the same signal for many
    # items at once (one query instead of one per item); the engine uses it when set.
    signal_many: str | None = None


@dataclass(frozen=True)
class ChangeStats:
    """Decayed sums of an item's checks: n checks, x that saw a change, hours watched by
    the changed ones (c) and by the unchanged ones (u)."""

    n: float = 0.0
    x: float = 0.0
    c: float = 0.0
    u: float = 0.0

    @classmethod
    def from_json(cls, data: Mapping | None) -> ChangeStats:
        data = data or {}
        return cls(*(float(data.get(k, 0.0)) for k in ("n", "x", "c", "u")))

    def to_json(self) -> dict:
        return {k: round(getattr(self, k), 6) for k in ("n", "x", "c", "u")}


def observe(stats: ChangeStats, *, hours: float, changed: bool, memory_hours: float) -> ChangeStats:
    """The sums after one more check that watched ``hours`` since the previous check."""
    hours = max(hours, 0.0)
    keep = math.exp(-hours / memory_hours) if memory_hours > 0 else 1.0
    return ChangeStats(
        n=stats.n * keep + 1,
        x=stats.x * keep + (1 if changed else 0),
        c=stats.c * keep + (hours if changed else 0.0),
        u=stats.u * keep + (0.0 if changed else hours),
    )


def estimate_rate(stats: ChangeStats) -> float:
    """Changes per hour, by Cho & Garcia-Molina's estimator (irregular-interval form); 0.0
    with no checks or no change seen."""
    if stats.n <= 0 or stats.x <= 0 or stats.c <= 0:
        return 0.0
    half = (stats.c + stats.u) / stats.n / 2
    return math.log((stats.c + stats.u + half) / (stats.u + half)) / (stats.c / stats.x)


def naive_rate(stats: ChangeStats) -> float:
    """Changed checks per hour watched: biased low for items that change between checks
    more than once (kept for comparison, in tests and the bench)."""
    watched = stats.c + stats.u
    return stats.x / watched if watched > 0 else 0.0


def bounds(base: timedelta, policy: Adaptive) -> tuple[timedelta, timedelta]:
    """(shortest, longest) interval allowed for a tier interval ``base``."""
    floor = base / policy.floor_factor
    ceiling = max(base, min(base * policy.ceiling_factor, policy.longest))
    return floor, ceiling


def allocate(
    rate: float | None,
    *,
    base: timedelta,
    policy: Adaptive,
    changed: bool = False,
    signal: float = 1.0,
) -> timedelta:
    """The interval until the next check of an item changing ``rate`` times per hour
    (None: not known yet, the tier's interval ``base``), by the square-root rule, shortened
    after a change and by the kind's ``signal``, within ``bounds``."""
    floor, ceiling = bounds(base, policy)
    if rate is None:
        interval = base
    elif rate <= 0:
        interval = ceiling
    else:
        interval = base * math.sqrt(reference_rate(base, policy) / rate)
    if changed:
        interval *= policy.after_change
    if signal and signal > 0:
        interval *= signal
    return min(max(interval, floor), ceiling)


def reference_rate(base: timedelta, policy: Adaptive) -> float:
    """Changes per hour at which an item keeps the tier's interval ``base``."""
    if policy.reference_rate:
        return policy.reference_rate
    return 3600 / (base.total_seconds() * policy.keep_at)


# Waking hours: channel calendars change mostly while people are awake (bookings, edits).
# With ~90% of changes between 08:00 and 22:00 local time, the rate is ~1.5x the day's
# mean by day and ~0.25x by night; the square-root rule turns that into intervals of
# 1/sqrt(those): ~0.8x by day and ~2x by night.
WAKING_HOURS = (8, 22)
WAKING_FACTOR = 0.8
SLEEPING_FACTOR = 2.0


def waking_hours_factor(local_hour: int) -> float:
    """A kind signal's share for the time of day in the item's own zone: 0.8 (checked a
    little more often) from 08:00 to 22:00, 2.0 (half as often) at night."""
    start, end = WAKING_HOURS
    return WAKING_FACTOR if start <= local_hour < end else SLEEPING_FACTOR


def known_rate(stats: ChangeStats, policy: Adaptive) -> float | None:
    """The estimate, or None while fewer than ``policy.min_checks`` checks are known (the
    count is decayed: three recent checks count a little under 3, hence the half)."""
    return estimate_rate(stats) if stats.n >= policy.min_checks - 0.5 else None
