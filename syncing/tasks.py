"""Thin Celery entry points: dispatch a tier, sync a chunk of claimed items."""

from __future__ import annotations

from celery import shared_task

from syncing.monitoring import tasks as _monitoring_tasks  # noqa: F401  (periodic tasks)
from syncing.services.dispatch import dispatch_tier
from syncing.services.runs import run_claimed


@shared_task(name="syncing.dispatch", acks_late=True, ignore_result=True)
def dispatch(kind: str, tier: str) -> int:
    """Beat's entry: claim due items of (kind, tier) and fan them out. Returns the count."""
    return dispatch_tier(kind, tier).claimed


@shared_task(
    name="syncing.sync_items",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def sync_items(kind: str, token: str, pks: list[int]) -> int:
    """Sync the items of one claim; returns how many ran (stale ones are dropped)."""
    return run_claimed(kind, token, pks).ran
