"""Thin Celery entry points for the market app."""

from __future__ import annotations

from celery import shared_task

from market.services.demand import apply_demand_rules as apply_rules


@shared_task(name="market.apply_demand_rules", acks_late=True, ignore_result=True, expires=6 * 3600)
def apply_demand_rules() -> int:
    """Daily: re-tier every unpinned product by its demand. Returns how many changed."""
    return apply_rules().changed


@shared_task(name="market.downsample_snapshots", acks_late=True, ignore_result=True)
def downsample_snapshots() -> int:
    """Daily: thin old price snapshots to the last of each hour, then of each day.
    Returns how many were deleted."""
    from market.services.downsample import downsample_snapshots as downsample

    return downsample().deleted
