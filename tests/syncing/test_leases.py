"""Leases hold for the whole run of an item: renewed while a chunk runs, one runner per
item even when a message is delivered twice, nothing run or recorded once a lease is lost."""

import time
from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from syncing.kinds import Kind, TierSpec, get_kind
from syncing.models import Probe, SyncAttempt
from syncing.results import SyncResult
from syncing.services.claims import claim_due_items
from syncing.services.dispatch import dispatch_tier
from syncing.services.runs import run_claimed
from syncing.tasks import sync_items
from tests.support.rows import row_versions
from tests.support.worker import broker_depth, broker_unacked, celery_worker, purge_broker
from tests.syncing.factories import make_probes

PROBE = "syncing.probe"


def wait_until(predicate, timeout=30.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@pytest.mark.django_db
def test_an_item_whose_lease_was_lost_mid_chunk_is_neither_run_nor_recorded(
    settings, temporary_kind
):
    """Another claim takes the second item while the first one runs: the renewal before the
    second item sees it, so it is skipped, and no attempt is written for it."""
    settings.SYNC_LEASE_SECONDS = 3  # renewed once a second
    stolen = "11111111-1111-1111-1111-111111111111"
    ran = []

    def sync(item, ctx):
        ran.append(item.name)
        if item.name == "probe-0":
            time.sleep(1.1)
            Probe.objects.filter(name="probe-1").update(lease_token=stolen)
        return SyncResult()

    temporary_kind(
        Kind(
            name="tests.steal",
            model="syncing.Probe",
            sync=sync,
            tiers=(TierSpec("5m", timedelta(minutes=5)),),
            default_tier="5m",
        )
    )
    make_probes(3, spread=timedelta(seconds=1))
    claim = claim_due_items(get_kind("tests.steal"), "5m", 10)
    report = run_claimed("tests.steal", claim.token, claim.pks)
    assert ran == ["probe-0", "probe-2"]
    assert report.ran == 2 and len(report.lost_lease) == 1
    assert sorted(SyncAttempt.objects.values_list("item_id", flat=True)) == sorted(
        Probe.objects.exclude(name="probe-1").values_list("pk", flat=True)
    )
    assert str(Probe.objects.get(name="probe-1").lease_token) == stolen


@pytest.mark.django_db
def test_a_running_chunk_keeps_its_items_leased(settings, temporary_kind):
    settings.SYNC_LEASE_SECONDS = 3
    seen = []

    def sync(item, ctx):
        time.sleep(0.6)
        fresh = Probe.objects.get(pk=item.pk)
        seen.append((fresh.leased_until - timezone.now()).total_seconds())
        return SyncResult()

    temporary_kind(
        Kind(
            name="tests.renew",
            model="syncing.Probe",
            sync=sync,
            tiers=(TierSpec("5m", timedelta(minutes=5)),),
            default_tier="5m",
        )
    )
    make_probes(8)
    claim = claim_due_items(get_kind("tests.renew"), "5m", 10)
    run_claimed("tests.renew", claim.token, claim.pks)  # 4.8 s, longer than the lease
    assert len(seen) == 8 and min(seen) > 0.5  # never ran out, though the chunk took 4.8 s
    assert SyncAttempt.objects.count() == 8


def both_messages_done() -> bool:
    """Nothing queued, nothing delivered and unacknowledged (acks are late: after the run)."""
    return broker_depth("default") == 0 and broker_unacked() in (0, -1)


@pytest.fixture
def clean_broker():
    purge_broker()
    yield
    purge_broker()


@pytest.mark.worker
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_chunk_slower_than_its_lease_is_not_claimed_again_and_run_twice(settings, clean_broker):
    """Five items of 1.5 s in one message, a 3 s lease, two pool processes, and a dispatch
    every 0.3 s: without renewal the last items were claimed again after 3 s and run at the
    same time by the second process.

    The probes were synced before, so each success schedules the next sync a whole 5 min
    after the last due time. As first syncs they would take a random phase in the 5 min
    (spreading new items), and about one run in twenty an item finished early got a due
    time within the loop's seconds and was rightly claimed again: a second sync after its
    first, not a second runner, which this test must not count."""
    settings.SYNC_LEASE_SECONDS = 3
    due = timezone.now() - timedelta(minutes=1)
    probes = make_probes(5, mode=Probe.Mode.SLOW, sleep_ms=1500, due=due, last_synced_at=due)
    with celery_worker(concurrency=2, env={"SYNC_LEASE_SECONDS": "3"}) as worker:
        assert dispatch_tier(PROBE, "5m").claimed == 5
        reclaimed = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            reclaimed += dispatch_tier(PROBE, "5m").claimed
            if SyncAttempt.objects.count() == 5:
                break
            time.sleep(0.3)
        assert wait_until(lambda: not Probe.objects.filter(lease_token__isnull=False).exists())
    assert reclaimed == 0
    assert SyncAttempt.objects.count() == 5
    assert set(Probe.objects.values_list("runs", flat=True)) == {1}
    assert {p.pk for p in probes} == set(SyncAttempt.objects.values_list("item_id", flat=True))
    assert "Traceback" not in worker.log


@pytest.mark.worker
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_message_delivered_twice_while_it_runs_syncs_each_item_once(clean_broker):
    """The same message twice, run at once by two pool processes: one attempt per item."""
    make_probes(200, mode=Probe.Mode.SLOW, sleep_ms=10)
    claim = claim_due_items(get_kind(PROBE), "5m", 1000)
    with celery_worker(concurrency=2) as worker:
        for _ in range(2):
            sync_items.apply_async(args=(PROBE, str(claim.token), claim.pks), queue="default")
        assert wait_until(lambda: SyncAttempt.objects.count() >= 200)
        assert wait_until(both_messages_done), worker.log[-3000:]
    per_item = SyncAttempt.objects.values("item_id").annotate(n=Count("id"))
    assert len(per_item) == 200 and {row["n"] for row in per_item} == {1}
    assert set(Probe.objects.values_list("runs", flat=True)) == {1}


@pytest.mark.worker
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_item_running_longer_than_its_lease_keeps_it(settings, clean_broker):
    """A single 4.5 s item under a 3 s lease (a slow speech synthesis, say): the heartbeat
    keeps its lease alive, so dispatch never claims it again and its result is recorded."""
    settings.SYNC_LEASE_SECONDS = 3
    (probe,) = make_probes(1, mode=Probe.Mode.SLOW, sleep_ms=4500)
    with celery_worker(concurrency=2, env={"SYNC_LEASE_SECONDS": "3"}) as worker:
        assert dispatch_tier(PROBE, "5m").claimed == 1
        reclaimed = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not SyncAttempt.objects.exists():
            reclaimed += dispatch_tier(PROBE, "5m").claimed
            time.sleep(0.3)
        assert wait_until(lambda: Probe.objects.get(pk=probe.pk).lease_token is None)
    assert reclaimed == 0
    probe.refresh_from_db()
    assert probe.runs == 1 and probe.last_success_at is not None
    assert SyncAttempt.objects.filter(item_id=probe.pk, outcome="ok").count() == 1
    assert "Traceback" not in worker.log


@pytest.mark.postgres  # the take's lock-and-extend statement is PostgreSQL's
@pytest.mark.django_db
def test_a_chunk_taken_at_once_reads_its_fresh_leases_and_extends_only_older_ones(settings):
    """A message taken within seconds of its claim does not rewrite its items' rows for a few
    seconds more of lease (one row version of the three a sync wrote); a lease older than
    that is extended from now, as before, and every item is held either way."""
    from syncing.services.leases import FRESH_SLACK, ChunkLease

    settings.SYNC_LEASE_SECONDS = 60
    make_probes(6)
    kind = get_kind(PROBE)
    claim = claim_due_items(kind, "5m", 10)
    # Two of them as if their message had waited 30 s in the queue: half the lease gone;
    # one holding the token with no end at all: both extended, as before.
    waited = sorted(claim.pks)[:3]
    Probe.objects.filter(pk__in=waited[:2]).update(
        leased_until=timezone.now() + timedelta(seconds=30)
    )
    Probe.objects.filter(pk=waited[2]).update(leased_until=None)
    before = row_versions("syncing_probe")
    leases_before = dict(Probe.objects.values_list("pk", "leased_until"))
    lease = ChunkLease(kind, claim.token)
    try:
        assert lease.take(claim.pks) == set(claim.pks)
    finally:
        lease.close()
    after = row_versions("syncing_probe")
    assert sorted(pk for pk in claim.pks if after[pk] != before[pk]) == waited
    now = timezone.now()
    for pk, until in Probe.objects.values_list("pk", "leased_until"):
        if pk in waited:
            assert 55 < (until - now).total_seconds() <= 60  # extended from now
        else:
            assert until == leases_before[pk]  # the claim's own lease, read as it was
    # The next renewal comes as early as a full extension would have left the lease.
    assert time.monotonic() - lease.renewed_at >= lease.renew_every * FRESH_SLACK - 0.01
