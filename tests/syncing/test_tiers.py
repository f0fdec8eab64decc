"""Tiers have a stable identity: renaming or re-timing one in the admin carries its items
and its periodic task along; no orphan dispatch tasks, also after a beat restart."""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from syncing.models import Probe, Tier
from syncing.services.dispatch import dispatch_tier
from syncing.services.tiers import ensure_default_tiers, tier_name
from tests.support.worker import celery_beat
from tests.syncing.factories import make_probes


def dispatch_tasks():
    return PeriodicTask.objects.filter(task="syncing.dispatch")


def change_tier(client, tier: Tier, **changes):
    data = {
        "name": tier.name,
        "interval": str(tier.interval) if tier.interval else "",
        "batch_limit": tier.batch_limit,
        "dispatch_every": str(tier.dispatch_every) if tier.dispatch_every else "",
        "enabled": "on" if tier.enabled else "",
        **changes,
    }
    reply = client.post(f"/admin/syncing/tier/{tier.pk}/change/", data)
    assert reply.status_code == 302, reply.content.decode()[:3000]
    tier.refresh_from_db()
    return tier


@pytest.mark.django_db
def test_renaming_a_tier_in_the_admin_moves_its_items_and_its_periodic_task(client, staff):
    client.force_login(staff)
    tier = Tier.objects.get(kind="syncing.probe", name="1h")
    task_pk = tier.periodic_task_id
    due = make_probes(3, tier="1h")
    later = make_probes(2, tier="1h", due=timezone.now() + timedelta(minutes=30))
    others = make_probes(2, tier="5m")

    change_tier(client, tier, name="hourly")

    assert set(
        Probe.objects.filter(pk__in=[p.pk for p in due + later]).values_list("tier", flat=True)
    ) == {"hourly"}
    assert set(
        Probe.objects.filter(pk__in=[p.pk for p in others]).values_list("tier", flat=True)
    ) == {"5m"}
    task = PeriodicTask.objects.get(pk=task_pk)  # the same task, renamed: last_run_at kept
    assert task.name == "syncing.dispatch syncing.probe hourly"
    assert json.loads(task.kwargs) == {"kind": "syncing.probe", "tier": "hourly"}
    names = {
        json.loads(t.kwargs)["tier"]
        for t in dispatch_tasks().filter(name__contains="syncing.probe")
    }
    assert "1h" not in names and "hourly" in names
    assert (
        dispatch_tasks().count() == Tier.objects.filter(enabled=True).exclude(interval=None).count()
    )
    # Beat's next dispatch of the renamed tier finds the items.
    assert dispatch_tier("syncing.probe", "hourly").claimed == 3
    # Code that names the tier by its key still finds it, and migrate does not bring it back.
    assert tier.key == "1h" and tier_name("syncing.probe", "1h") == "hourly"
    ensure_default_tiers()
    assert not Tier.objects.filter(kind="syncing.probe", name="1h").exists()


@pytest.mark.django_db
def test_a_shorter_interval_brings_waiting_items_in_and_keeps_their_spread(client, staff):
    client.force_login(staff)
    tier = Tier.objects.get(kind="syncing.probe", name="1h")
    now = timezone.now()
    probes = make_probes(
        4, tier="1h", due=now + timedelta(minutes=10), spread=timedelta(minutes=15)
    )

    change_tier(client, tier, interval="00:10:00")

    dues = list(
        Probe.objects.filter(pk__in=[p.pk for p in probes])
        .order_by("pk")
        .values_list("next_sync_at", flat=True)
    )
    after = timezone.now()
    assert all(d <= after + timedelta(minutes=10) for d in dues)
    assert dues == sorted(dues) and dues[-1] - dues[0] > timedelta(minutes=5)  # still spread
    task = PeriodicTask.objects.get(pk=tier.periodic_task_id)
    assert task.interval.every == 60 and task.interval.period == IntervalSchedule.SECONDS


@pytest.mark.django_db
def test_a_tiers_kind_and_key_are_fixed_in_the_admin(client, staff):
    client.force_login(staff)
    probe = Tier.objects.get(kind="syncing.probe", name="5m")
    page = client.get(f"/admin/syncing/tier/{probe.pk}/change/").content.decode()
    assert 'name="name"' in page and 'name="kind"' not in page and 'name="key"' not in page
    assert 'name="kind"' in client.get("/admin/syncing/tier/add/").content.decode()


@pytest.mark.worker
@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_beat_removes_orphan_dispatch_tasks_when_it_starts():
    schedule, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="syncing.dispatch syncing.probe gone",
        task="syncing.dispatch",
        interval=schedule,
        kwargs=json.dumps({"kind": "syncing.probe", "tier": "gone"}),
    )
    with celery_beat() as beat:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "in step with the tiers" not in beat.log:
            time.sleep(0.2)
        assert "in step with the tiers (1 orphan(s) removed)" in beat.log, beat.log[-2000:]
    assert not PeriodicTask.objects.filter(name="syncing.dispatch syncing.probe gone").exists()
    assert (
        dispatch_tasks().count() == Tier.objects.filter(enabled=True).exclude(interval=None).count()
    )
