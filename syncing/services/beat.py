"""Keeping django-celery-beat's table in step with the Tier rows.

One PeriodicTask per enabled tier that has an interval, never one per item. Updating a
task in place keeps its ``last_run_at`` and any staff edits to fields we do not own.
"""

from __future__ import annotations

import json
import logging

from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from syncing.models import Tier

logger = logging.getLogger("syncing.beat")

DISPATCH_TASK = "syncing.dispatch"


def periodic_task_name(tier: Tier) -> str:
    return f"syncing.dispatch {tier.kind} {tier.name}"


def sync_periodic_task(tier: Tier) -> PeriodicTask | None:
    """Create, update or remove the tier's periodic task to match the tier."""
    period = tier.dispatch_period
    name = periodic_task_name(tier)
    with transaction.atomic():
        if period is None:
            deleted, _ = PeriodicTask.objects.filter(name=name).delete()
            if deleted:
                logger.info("removed periodic dispatch for %s", tier)
            return None
        seconds = max(1, int(period.total_seconds()))
        schedule, _ = IntervalSchedule.objects.get_or_create(
            every=seconds, period=IntervalSchedule.SECONDS
        )
        # A dispatch that could not run before the next one is due is worthless: expire it,
        # so a stopped worker does not come back to a pile of identical dispatches.
        expire = max(1, int(seconds * 0.9))
        defaults = {
            "task": DISPATCH_TASK,
            "interval": schedule,
            "crontab": None,
            "kwargs": json.dumps({"kind": tier.kind, "tier": tier.name}),
            "queue": "dispatch",
            "expire_seconds": expire,
            "enabled": True,
            "description": f"Claims due {tier.kind} items of tier {tier.name} "
            f"(up to {tier.batch_limit} per run).",
        }
        task, created = PeriodicTask.objects.get_or_create(name=name, defaults=defaults)
        if not created:
            changed = [k for k, v in defaults.items() if getattr(task, k) != v]
            if changed:
                for key in changed:
                    setattr(task, key, defaults[key])
                task.save()
        if tier.periodic_task_id != task.pk:
            Tier.objects.filter(pk=tier.pk).update(periodic_task=task)
            tier.periodic_task_id = task.pk
        return task


def remove_periodic_task(tier: Tier) -> None:
    PeriodicTask.objects.filter(name=periodic_task_name(tier)).delete()


def sync_all_periodic_tasks() -> None:
    """Bring every tier's periodic task in step; drop dispatch tasks of vanished tiers."""
    wanted = set()
    for tier in Tier.objects.all():
        if sync_periodic_task(tier) is not None:
            wanted.add(periodic_task_name(tier))
    PeriodicTask.objects.filter(task=DISPATCH_TASK).exclude(name__in=wanted).delete()
