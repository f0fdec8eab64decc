import json
from datetime import timedelta

import pytest
from django_celery_beat.models import PeriodicTask

from syncing.models import Tier
from syncing.services.tiers import ensure_default_tiers


def dispatch_tasks():
    return PeriodicTask.objects.filter(task="syncing.dispatch")


@pytest.mark.django_db
def test_every_enabled_tier_has_exactly_one_periodic_task():
    tiers = Tier.objects.exclude(interval=None).filter(enabled=True)
    assert tiers.exists()
    assert dispatch_tasks().count() == tiers.count()
    for tier in tiers:
        task = PeriodicTask.objects.get(pk=tier.periodic_task_id)
        assert json.loads(task.kwargs) == {"kind": tier.kind, "tier": tier.name}
        assert task.queue == "dispatch"
        # Expires before the next run: a stopped worker does not come back to a backlog.
        assert 0 < task.expire_seconds < task.interval.every


@pytest.mark.django_db
def test_editing_a_tier_updates_its_task_in_place_and_disabling_removes_it():
    tier = Tier.objects.get(kind="syncing.probe", name="1h")
    task = PeriodicTask.objects.get(pk=tier.periodic_task_id)
    tier.interval = timedelta(hours=2)
    tier.save()
    # Updated in place, keeping last_run_at and staff edits; renamed with the tier, which is
    # named after its interval (1h -> 2h).
    task_after = PeriodicTask.objects.get(pk=task.pk)
    assert task_after.name == "syncing.dispatch syncing.probe 2h"
    assert task_after.interval.every == 720  # a tenth of 2 h

    tier.enabled = False
    tier.save()
    assert not PeriodicTask.objects.filter(name=task_after.name).exists()

    tier.enabled = True
    tier.save()
    assert PeriodicTask.objects.filter(name=task_after.name).count() == 1


@pytest.mark.django_db
def test_on_demand_tiers_have_no_periodic_task_and_deleting_a_tier_removes_its_task():
    tier = Tier.objects.create(kind="syncing.probe", name="manual", interval=None)
    assert tier.periodic_task_id is None
    assert not dispatch_tasks().filter(name__contains="manual").exists()
    tier = Tier.objects.get(kind="syncing.probe", name="1m")
    name = PeriodicTask.objects.get(pk=tier.periodic_task_id).name
    tier.delete()
    assert not PeriodicTask.objects.filter(name=name).exists()


@pytest.mark.django_db
def test_migrate_keeps_staff_edits_to_existing_tiers():
    Tier.objects.filter(kind="syncing.probe", name="5m").update(batch_limit=7)
    ensure_default_tiers()
    assert Tier.objects.get(kind="syncing.probe", name="5m").batch_limit == 7
    assert dispatch_tasks().filter(name="syncing.dispatch syncing.probe 5m").count() == 1
