"""Thin periodic tasks for watching the engine (names are what beat schedules)."""

from __future__ import annotations

from celery import shared_task
from celery.signals import beat_init

from syncing.beatlock import hold_beat_lock

# Exactly one beat: the lock is taken at beat start, before beat's first tick (and before
# the schedule reconcile that syncing.tasks connects after importing this module).
beat_init.connect(hold_beat_lock, dispatch_uid="syncing.hold_beat_lock")


@shared_task(name="syncing.monitoring.rollup", acks_late=True, ignore_result=True)
def rollup() -> int:
    """Recompute the hourly rollups of the recent hours (idempotent)."""
    from syncing.monitoring.rollups import rollup_attempts

    return rollup_attempts()


@shared_task(name="syncing.monitoring.prune", acks_late=True, ignore_result=True)
def prune() -> int:
    """Delete attempts past SYNC_ATTEMPT_RETENTION_DAYS (rolled up first)."""
    from syncing.monitoring.rollups import prune as prune_attempts

    return prune_attempts().attempts


@shared_task(name="syncing.monitoring.evaluate_alerts", acks_late=True, ignore_result=True)
def evaluate_alerts() -> int:
    """Open, notify and resolve alerts; returns how many opened."""
    from syncing.monitoring.alerts import evaluate_rules

    return len(evaluate_rules().opened)


@shared_task(name="syncing.webhooks.deliver", acks_late=True, ignore_result=True)
def deliver_webhooks() -> int:
    """Send the due webhook deliveries; returns how many were delivered."""
    from syncing.webhooks.delivery import deliver_due

    return deliver_due().delivered
