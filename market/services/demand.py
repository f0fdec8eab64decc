"""Demand rules: a product's tier follows how much people care about it.

Signals per product: its watchers, its recent sales (the largest ``sales_72h`` any size
reported in the last 72 hours) and its price move (the lowest ask in its primary region
over the last 24 hours against the 24 hours before). A product rises straight to the tier
its signals ask for; an idle one sinks one tier per run (hot -> warm -> cold -> frozen), so
a quiet day does not drop a hot product to frozen. Pinned tiers are kept. Products never
synced are not sunk (there is nothing to judge them by yet). Every change is a TierChange
row with its reason. Runs daily (market.tasks.apply_demand_rules) and on events (a new
watch: ``apply_demand_rules([product.pk])``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, Max, Min, Q
from django.utils import timezone

from market.kinds import PRODUCT_KIND
from market.models import TIER_ORDER, PriceSnapshot, Product, ProductTier, TierChange, Watch
from syncing.services.tiers import tier_intervals

logger = logging.getLogger(__name__)

HOT_WATCHERS, WARM_WATCHERS = 3, 1
HOT_SALES, WARM_SALES = 50, 10
HOT_MOVE, WARM_MOVE, COLD_MOVE = Decimal(10), Decimal(5), Decimal(2)  # percent
BATCH = 2000


@dataclass(frozen=True)
class Signals:
    watchers: int = 0
    sales_72h: int = 0
    move_percent: Decimal = Decimal(0)

    def describe(self) -> str:
        return (
            f"{self.watchers} watcher(s), {self.sales_72h} sales in 72h, "
            f"price move {self.move_percent:.1f}%"
        )


@dataclass
class DemandReport:
    examined: int = 0
    changes: list[TierChange] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return len(self.changes)


def desired_tier(signals: Signals) -> str:
    """The tier the signals alone ask for."""
    s = signals
    if s.watchers >= HOT_WATCHERS or s.sales_72h >= HOT_SALES or s.move_percent >= HOT_MOVE:
        return ProductTier.HOT
    if s.watchers >= WARM_WATCHERS or s.sales_72h >= WARM_SALES or s.move_percent >= WARM_MOVE:
        return ProductTier.WARM
    if s.sales_72h > 0 or s.move_percent >= COLD_MOVE:
        return ProductTier.COLD
    return ProductTier.FROZEN


def next_tier(current: str, desired: str, *, ever_synced: bool) -> str:
    """Rise at once; sink one step at a time; keep unknown tiers and never-synced products."""
    if current not in TIER_ORDER or desired not in TIER_ORDER:
        return current
    now_rank, want_rank = TIER_ORDER.index(current), TIER_ORDER.index(desired)
    if want_rank < now_rank:
        return desired
    if want_rank > now_rank and ever_synced:
        return TIER_ORDER[now_rank + 1]
    return current


def collect_signals(pks: list[int], now: datetime) -> dict[int, Signals]:
    """Signals for a batch of products, in three aggregate queries."""
    watchers = dict(
        Watch.objects.filter(product_id__in=pks)
        .values("product_id")
        .annotate(n=Count("id"))
        .values_list("product_id", "n")
    )
    recent = PriceSnapshot.objects.filter(
        product_id__in=pks, captured_at__gte=now - timedelta(hours=72)
    )
    sales = dict(
        recent.values("product_id").annotate(s=Max("sales_72h")).values_list("product_id", "s")
    )
    day, two_days = now - timedelta(hours=24), now - timedelta(hours=48)
    moves = {}
    rows = (
        PriceSnapshot.objects.filter(
            product_id__in=pks,
            captured_at__gte=two_days,
            region=F("product__primary_region"),
            lowest_ask__isnull=False,
        )
        .values("product_id")
        .annotate(
            now_low=Min("lowest_ask", filter=Q(captured_at__gte=day)),
            before_low=Min("lowest_ask", filter=Q(captured_at__lt=day)),
        )
    )
    for row in rows:
        if row["now_low"] is not None and row["before_low"]:
            change = (row["now_low"] - row["before_low"]) / row["before_low"] * 100
            moves[row["product_id"]] = abs(change).quantize(Decimal("0.1"))
    return {
        pk: Signals(
            watchers=watchers.get(pk, 0),
            sales_72h=sales.get(pk) or 0,
            move_percent=moves.get(pk, Decimal(0)),
        )
        for pk in pks
    }


def apply_demand_rules(
    product_ids: Iterable[int] | None = None, *, now: datetime | None = None
) -> DemandReport:
    """Re-tier the given products (all when None) by their demand; returns what changed."""
    now = now or timezone.now()
    report = DemandReport()
    base = Product.objects.filter(tier_pinned=False)
    if product_ids is not None:
        base = base.filter(pk__in=list(product_ids))
    last_pk = 0
    while True:
        batch = list(
            base.filter(pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", "tier", "last_synced_at", "next_sync_at")[:BATCH]
        )
        if not batch:
            break
        last_pk = batch[-1][0]
        signals = collect_signals([row[0] for row in batch], now)
        for pk, tier, last_synced_at, next_sync_at in batch:
            report.examined += 1
            s = signals[pk]
            target = next_tier(tier, desired_tier(s), ever_synced=last_synced_at is not None)
            if target != tier:
                change = _change_tier(pk, tier, target, s, last_synced_at, next_sync_at, now)
                if change:
                    report.changes.append(change)
    if report.changed:
        logger.info("demand rules: %d of %d products changed tier", report.changed, report.examined)
    return report


def _change_tier(pk, old, new, signals, last_synced_at, next_sync_at, now) -> TierChange | None:
    rising = TIER_ORDER.index(new) < TIER_ORDER.index(old)
    fields = {"tier": new}
    if rising:
        # Sync on the new, shorter rhythm from the last sync (at once if that is overdue).
        interval = tier_intervals(PRODUCT_KIND).get(new)
        if interval:
            due = (last_synced_at or now) + interval
            fields["next_sync_at"] = min(next_sync_at, due)
    verb = "rise" if rising else "sink"
    reason = f"{verb}: {signals.describe()}"
    with transaction.atomic():
        # Conditional: a staff pin or another run in between wins.
        if not Product.objects.filter(pk=pk, tier=old, tier_pinned=False).update(**fields):
            return None
        return TierChange.objects.create(
            product_id=pk, from_tier=old, to_tier=new, reason=reason, at=now
        )
