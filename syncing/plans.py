"""Plans: the tier an owner's items get per kind, and the owner's allowances."""

from __future__ import annotations

from dataclasses import dataclass

from syncing.kinds import get_kind
from syncing.models import Account, Plan


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


def account_for(user) -> Account:
    account, _ = Account.objects.get_or_create(user=user)
    return account


def plan_of(user) -> str:
    return account_for(user).plan


def allowance_for(user) -> Allowance:
    return ALLOWANCES[plan_of(user)]


def tier_for(user, kind_name: str) -> str:
    """The tier new items of ``kind_name`` get for this owner's plan."""
    return get_kind(kind_name).tier_for_plan(plan_of(user))
