"""Plans: the tier an owner's items get per kind, and the owner's allowances."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from syncing.kinds import all_kinds, get_kind
from syncing.models import Account, Plan, Tier


@dataclass(frozen=True)
class Allowance:
    items: int  # items per kind an owner may have (listings, products, alarms)
    manual_syncs_per_hour: int


ALLOWANCES: dict[str, Allowance] = {
    Plan.FREE: Allowance(items=1, manual_syncs_per_hour=2),
    Plan.STARTER: Allowance(items=3, manual_syncs_per_hour=6),
    Plan.PRO: Allowance(items=10, manual_syncs_per_hour=20),
    Plan.BUSINESS: Allowance(items=50, manual_syncs_per_hour=60),
    Plan.REALTIME: Allowance(items=200, manual_syncs_per_hour=240),
}


# Webhook endpoints an owner may register (each one multiplies every event sent out).
WEBHOOK_ENDPOINTS: dict[str, int] = {
    Plan.FREE: 2,
    Plan.STARTER: 5,
    Plan.PRO: 10,
    Plan.BUSINESS: 25,
    Plan.REALTIME: 50,
}


def account_for(user) -> Account:
    account, _ = Account.objects.get_or_create(user=user)
    return account


def plan_of(user) -> str:
    return account_for(user).plan


def allowance_for(user) -> Allowance:
    return ALLOWANCES[plan_of(user)]


def account_set_plan(user, plan: str) -> Account:
    """Put an owner on ``plan`` and move their items to the plan's tier of each kind.

    An item whose next due time lies further away than its new interval is due at a random
    moment within that interval instead (an upgrade takes effect within one new period,
    without every item of the owner firing at once). Raises ValueError for an unknown plan.
    """
    if plan not in Plan.values:
        raise ValueError(f"unknown plan {plan!r}; one of {', '.join(Plan.values)}")
    with transaction.atomic():
        account, _ = Account.objects.update_or_create(user=user, defaults={"plan": plan})
        now = timezone.now()
        for kind in all_kinds():
            tier_name = kind.plan_tiers.get(plan)
            if not tier_name:
                continue  # this kind's tier does not follow the plan (market: demand)
            items = kind.model_class.objects.filter(**{kind.owner_path: user})
            items.exclude(tier=tier_name).update(tier=tier_name)
            interval = (
                Tier.objects.filter(kind=kind.name, name=tier_name)
                .values_list("interval", flat=True)
                .first()
            )
            if interval:
                late = items.filter(Q(next_sync_at__gt=now + interval))
                for pk in late.values_list("pk", flat=True):
                    jitter = timedelta(seconds=random.uniform(0, interval.total_seconds()))
                    kind.model_class.objects.filter(pk=pk).update(next_sync_at=now + jitter)
    return account


def manual_sync_take(user, *, now=None) -> tuple[bool, int]:
    """Count one manual ("sync now") request of ``user`` against the plan's hourly allowance,
    shared by every kind. Returns (allowed, seconds until a slot frees).

    A sliding hour shared by every process: Redis when configured, else the database
    (``syncing.allowances``).
    """
    from syncing.allowances import take_manual_sync

    taken = take_manual_sync(user, allowance_for(user).manual_syncs_per_hour, now=now)
    return taken.allowed, taken.retry_after


def tier_for(user, kind_name: str) -> str:
    """The tier new items of ``kind_name`` get for this owner's plan (its current name:
    kinds name their tiers by stable key, staff may have renamed them)."""
    from syncing.services.tiers import tier_name

    return tier_name(kind_name, get_kind(kind_name).tier_for_plan(plan_of(user)))
