"""On-demand syncs leave the periodic phase alone; new items are synced within moments."""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from syncing.kinds import get_kind
from syncing.models import Probe, SyncAttempt, Tier
from syncing.services import newitems
from syncing.services.claims import claim_due_items, claim_one
from syncing.services.runs import run_claimed
from tests.support.worker import broker_depth, celery_worker, purge_broker
from tests.syncing.factories import make_probes

PROBE = "syncing.probe"


def sync_now_inline(pk):
    """What the worker does for a "sync now" message: claim_one, then run the claim."""
    claim = claim_one(get_kind(PROBE), pk)
    assert claim.pks == [pk]
    return run_claimed(PROBE, claim.token, claim.pks)


@pytest.mark.django_db
def test_sync_now_twice_leaves_the_next_periodic_sync_where_it_was():
    """An hourly item synced by hand twice still syncs periodically at its own time (it
    used to wait three hours)."""
    now = timezone.now()
    due = now + timedelta(minutes=40)
    (probe,) = make_probes(1, tier="1h", due=due)
    Probe.objects.filter(pk=probe.pk).update(last_synced_at=now - timedelta(minutes=20))
    for _ in range(2):
        assert sync_now_inline(probe.pk).ran == 1
        probe.refresh_from_db()
        assert probe.next_sync_at == due
        assert probe.lease_token is None and probe.last_success_at is not None
    assert SyncAttempt.objects.filter(item_id=probe.pk, outcome="ok").count() == 2
    # The periodic run at its due time then moves it one interval on, as always.
    Probe.objects.filter(pk=probe.pk).update(next_sync_at=now - timedelta(seconds=1))
    claim = claim_due_items(get_kind(PROBE), "1h", 10)
    run_claimed(PROBE, claim.token, claim.pks)
    probe.refresh_from_db()
    assert probe.next_sync_at == now - timedelta(seconds=1) + timedelta(hours=1)


@pytest.mark.django_db
def test_items_synced_together_by_hand_keep_their_own_phases():
    now = timezone.now()
    probes = make_probes(3, tier="1h", due=now + timedelta(minutes=5), spread=timedelta(minutes=17))
    Probe.objects.update(last_synced_at=now - timedelta(hours=1))
    wanted = {p.pk: p.next_sync_at for p in probes}
    for p in probes:
        sync_now_inline(p.pk)
    assert dict(Probe.objects.values_list("pk", "next_sync_at")) == wanted


@pytest.mark.django_db
def test_a_success_by_hand_after_a_long_failure_backoff_restores_the_period():
    now = timezone.now()
    (probe,) = make_probes(1, tier="5m", due=now + timedelta(hours=3))
    Probe.objects.filter(pk=probe.pk).update(last_synced_at=now, consecutive_failures=6)
    sync_now_inline(probe.pk)
    probe.refresh_from_db()
    assert probe.consecutive_failures == 0
    assert probe.next_sync_at <= timezone.now() + timedelta(minutes=5)


def _dispatch_messages() -> list[int]:
    """Messages waiting on the dispatch queue, on either broker (one entry per message)."""
    return [1] * broker_depth("dispatch")


@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_new_item_is_synced_within_moments_not_at_its_tiers_next_tick():
    """No beat at all: the item's creation kicks its tier's dispatch after commit, once per
    (kind, tier) per transaction however many items it created."""
    purge_broker()
    newitems._last_kick.clear()
    try:
        with transaction.atomic():
            created = [Probe.objects.create(name=f"new-{i}", tier="1h") for i in range(30)]
            assert _dispatch_messages() == []  # nothing before commit
        assert len(_dispatch_messages()) == 1
        Probe.objects.create(
            name="later", tier="1h", next_sync_at=timezone.now() + timedelta(hours=1)
        )
        Probe.objects.create(name="paused", tier="1h", paused=True)
        Probe.objects.create(name="on demand only", tier="ondemand")
        assert len(_dispatch_messages()) == 1  # due later, paused, or no periodic tier: no kick
        # Outside a transaction too: at most one kick a second per tier, not one per item.
        started = time.monotonic()
        created += [Probe.objects.create(name=f"one-by-one-{i}", tier="1h") for i in range(20)]
        seconds = time.monotonic() - started
        assert 1 <= len(_dispatch_messages()) <= 2 + int(seconds / 0.9)
        started = time.monotonic()
        with celery_worker():
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if SyncAttempt.objects.filter(kind=PROBE).count() == 50:
                    break
                time.sleep(0.1)
        assert SyncAttempt.objects.filter(kind=PROBE).count() == 50
        assert time.monotonic() - started < 30
        assert set(SyncAttempt.objects.values_list("item_id", flat=True)) == {p.pk for p in created}
    finally:
        purge_broker()


@pytest.fixture(autouse=True)
def _on_demand_tier(db):
    Tier.objects.get_or_create(kind=PROBE, name="ondemand", defaults={"interval": None})
