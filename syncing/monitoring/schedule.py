"""Fixed periodic tasks (the engine's own and those domain apps register), created once on
migrate so staff edits and ``last_run_at`` survive deploys.

A domain app declares its own in its kinds.py (``Domain.periodic_tasks``, syncing.domains)::

    PeriodicTask("market: demand rules", "market.apply_demand_rules", 86400, 6 * 3600)
"""

from __future__ import annotations

PERIODIC = [
    # (name, task, every seconds, expires seconds, queue)
    ("syncing: roll up attempts", "syncing.monitoring.rollup", 300, 240, "default"),
    ("syncing: prune attempts", "syncing.monitoring.prune", 3600, 3000, "default"),
    ("syncing: evaluate alerts", "syncing.monitoring.evaluate_alerts", 60, 55, "default"),
    ("syncing: deliver webhooks", "syncing.webhooks.deliver", 30, 25, "default"),
]


def register_periodic(
    name: str, task: str, every: int, expires: int, queue: str = "default"
) -> None:
    """Add a periodic task (every ``every`` seconds, expiring after ``expires``)."""
    PERIODIC[:] = [entry for entry in PERIODIC if entry[0] != name]
    PERIODIC.append((name, task, every, expires, queue))


def ensure_monitoring_schedule(**kwargs) -> int:
    """Create the missing periodic tasks (post_migrate); returns how many were created."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    created = 0
    for name, task, every, expires, queue in PERIODIC:
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=every, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.create(
            name=name, task=task, interval=interval, expire_seconds=expires, queue=queue
        )
        created += 1
    return created
