"""Freshness, the headline figure: per kind and tier, the share of items synced on time
(the on-time rate) and the age of the stalest item.

An item that is not paused is on time when its last success is at most one tier interval
(for a kind with adaptive polling: the interval the item earned) plus a grace of one
dispatch period ago (dispatch runs that often, so an item can be that
late without anything being wrong). An item never synced yet is on time until its first due
time is more than the grace ago. Tiers without an interval sync on demand only (frozen
products): they make no promise of freshness, so they have no on-time rate; their stalest
age is still shown.
Paused items are counted apart (``paused``), not in the rate: they wait for a person.

That is the default promise. A kind whose promise is something else registers its own
rule (``Kind.freshness``: callable(kind, tier, now) -> Freshness); alarms count the share
of rings whose briefing was ready in time, so a weekday alarm is not late every weekend.
Every reader (dashboard, API, /metrics, the on-time-rate alert) goes through
``tier_freshness``, so they all follow the kind's rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, DateTimeField, ExpressionWrapper, F, Min, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from syncing.kinds import Kind, all_kinds
from syncing.models import Tier

ON_DEMAND_GRACE = timedelta(minutes=1)


@dataclass(frozen=True)
class Freshness:
    kind: str
    tier: str
    interval: timedelta | None
    items: int  # not paused
    on_time: int
    paused: int
    failing: int
    stalest_age: timedelta | None  # None when there is no item
    # What ``items``/``on_time`` count: "items" (the interval rule) or the kind's own unit
    # ("rings" for alarms).
    unit: str = "items"

    @property
    def late(self) -> int:
        return self.items - self.on_time

    @property
    def on_time_rate(self) -> float | None:
        """Percent of not-paused items on time; None when there are none or the tier is
        on demand only (no interval, no promise)."""
        if not self.items or self.interval is None:
            return None
        return 100.0 * self.on_time / self.items


def grace_for(tier: Tier) -> timedelta:
    return tier.dispatch_period or ON_DEMAND_GRACE


def tier_freshness(kind: Kind, tier: Tier, now: datetime | None = None) -> Freshness:
    """Freshness of one kind's items in one tier: the kind's own rule when it has one,
    else the interval rule."""
    now = now or timezone.now()
    if kind.freshness_function is not None:
        return kind.freshness_function(kind, tier, now)
    return interval_freshness(kind, tier, now)


def interval_freshness(kind: Kind, tier: Tier, now: datetime) -> Freshness:
    """On time = last success within one interval plus grace (one aggregate query)."""
    grace = grace_for(tier)
    model = kind.model_class
    overdue_cut = now - grace
    if tier.interval:
        success_cut: datetime | ExpressionWrapper = now - tier.interval - grace
        if kind.adaptive is not None:
            # Adaptive polling: each item is due after the interval it earned (shorter or
            # longer than the tier's), so it is on time within that interval.
            success_cut = ExpressionWrapper(
                Value(now - grace) - Coalesce(F("effective_interval"), Value(tier.interval)),
                output_field=DateTimeField(),
            )
        on_time = Q(last_success_at__gte=success_cut) | Q(
            last_success_at__isnull=True, next_sync_at__gte=overdue_cut
        )
    else:
        on_time = Q(pk__isnull=False)  # on demand: nothing is ever late
    active = Q(paused=False)
    row = model.objects.filter(tier=tier.name).aggregate(
        n_items=Count("pk", filter=active),
        n_on_time=Count("pk", filter=active & on_time),
        n_paused=Count("pk", filter=Q(paused=True)),
        n_failing=Count("pk", filter=active & Q(consecutive_failures__gt=0)),
        oldest_success=Min("last_success_at", filter=active),
        oldest_unsynced_due=Min("next_sync_at", filter=active & Q(last_success_at__isnull=True)),
        oldest_due=Min("next_sync_at", filter=active),
    )
    stalest = None
    if row["n_items"]:
        if tier.interval:
            candidates = [row["oldest_success"], row["oldest_unsynced_due"]]
            stamps = [c for c in candidates if c is not None]
            oldest = min(stamps) if stamps else None
        else:
            oldest = row["oldest_success"]
        if oldest:
            stalest = max(now - oldest, timedelta(0))
        elif tier.interval:
            stalest = timedelta(0)  # every item new and not yet due
        # on demand and never synced: no age to tell (stays None)
    return Freshness(
        kind=kind.name,
        tier=tier.name,
        interval=tier.interval,
        items=row["n_items"],
        on_time=row["n_on_time"],
        paused=row["n_paused"],
        failing=row["n_failing"],
        stalest_age=stalest,
    )


def freshness_report(now: datetime | None = None, *, kind: str | None = None) -> list[Freshness]:
    """Freshness for every registered kind and each of its enabled tiers."""
    now = now or timezone.now()
    kinds = {k.name: k for k in all_kinds() if kind is None or k.name == kind}
    tiers = Tier.objects.filter(kind__in=list(kinds), enabled=True).order_by("kind", "interval")
    return [tier_freshness(kinds[t.kind], t, now) for t in tiers]
