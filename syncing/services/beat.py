"""Keeping django-celery-beat's table in step with the Tier rows.

One PeriodicTask per enabled tier that has an interval, never one per item. Updating a
task in place keeps its ``last_run_at`` and any staff edits to fields we do not own.
"""

from __future__ import annotations

import json
import logging

from django.db import transaction
from django.db.models import Q
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
            deleted, _ = PeriodicTask.objects.filter(
                Q(name=name) | Q(pk=tier.periodic_task_id or 0)
            ).delete()
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
        task = _task_of(tier, name)
        if task is None:
            task = PeriodicTask.objects.create(name=name, **defaults)
        else:
            wanted = {"name": name, **defaults}
            changed = [k for k, v in wanted.items() if getattr(task, k) != v]
            if changed:
                for key in changed:
                    setattr(task, key, wanted[key])
                task.save()
        if tier.periodic_task_id != task.pk:
            Tier.objects.filter(pk=tier.pk).update(periodic_task=task)
            tier.periodic_task_id = task.pk
        return task


def _task_of(tier: Tier, name: str) -> PeriodicTask | None:
    """The tier's own task (it keeps following the tier through renames), or one by name."""
    task = None
    if tier.periodic_task_id:
        task = PeriodicTask.objects.filter(pk=tier.periodic_task_id).first()
    if task is None:
        return PeriodicTask.objects.filter(name=name).first()
    # A rename onto a name an orphan holds: the orphan goes, the tier's own task stays.
    PeriodicTask.objects.filter(name=name).exclude(pk=task.pk).delete()
    return task


def remove_periodic_task(tier: Tier) -> None:
    PeriodicTask.objects.filter(
        Q(name=periodic_task_name(tier)) | Q(pk=tier.periodic_task_id or 0)
    ).delete()


def sync_all_periodic_tasks() -> int:
    """Bring every tier's periodic task in step; drop dispatch tasks of vanished tiers.

    Returns how many orphan dispatch tasks were removed.
    """
    wanted = set()
    for tier in Tier.objects.all():
        if sync_periodic_task(tier) is not None:
            wanted.add(periodic_task_name(tier))
    removed, _ = PeriodicTask.objects.filter(task=DISPATCH_TASK).exclude(name__in=wanted).delete()
    if removed:
        logger.info("removed %d orphan periodic dispatch task(s)", removed)
    return removed


def reconcile_at_beat_start(sender=None, **kwargs) -> None:
    """celery beat_init: the schedule beat is about to read matches the Tier rows."""
    try:
        removed = sync_all_periodic_tasks()
    except Exception:  # beat must start even if this fails; it runs again at next start
        logger.exception("could not reconcile periodic dispatch tasks with the tiers")
        return
    logger.info("periodic dispatch tasks in step with the tiers (%d orphan(s) removed)", removed)
