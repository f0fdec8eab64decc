"""capacity from the workers' chunk records (ChunkRun): a slot's whole time per attempt and
its CPU, the CPU ceiling, the window of records, the fallback to the attempts, pruning."""

import os
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from syncing.models import ChunkRun, SyncAttempt
from syncing.monitoring.capacity import estimate, throughput
from syncing.monitoring.rollups import prune
from syncing.services import chunkruns
from syncing.services.chunkruns import ChunkClock, record
from tests.syncing.test_capacity_throughput import seed
from tests.syncing.test_monitoring_capacity import PROBE, run


def chunks(
    n, *, at=None, items=10, wall_ms=200.0, cpu_ms=40.0, wait_ms=100.0, between=2.0, queue=None
):
    """``n`` chunk records; the first has no between figures (a worker's first chunk).
    Each came 50 ms after the slot's previous one; its message waited ``queue`` ms."""
    at = at or timezone.now() - timedelta(minutes=5)
    ChunkRun.objects.bulk_create(
        ChunkRun(
            kind=PROBE,
            tier="5m",
            worker="host:1",
            started_at=at + timedelta(seconds=i),
            claimed=items,
            items=items,
            wall_ms=wall_ms,
            cpu_ms=cpu_ms,
            cpu_wait_ms=wait_ms,
            queue_ms=queue,
            between_ms=None if i == 0 else 50.0,
            between_cpu_ms=None if i == 0 else between,
            load=3.0,
        )
        for i in range(n)
    )


@pytest.mark.django_db
def test_a_slots_time_per_attempt_comes_from_the_chunks():
    seed(100, duration_ms=4, cpu_ms=0.5)  # the attempts alone would say 2 x 1000 / 4 = 500/s
    chunks(4)
    t = throughput(PROBE, 2, concurrency=1, cores=2)
    # (4 x 200 ms of chunk + 4 x 2 ms of CPU between messages) / 40 attempts = 20.2 ms.
    assert t.chunks == 4 and t.slot_ms == pytest.approx(20.2)
    assert t.cpu_ms == pytest.approx((4 * 40 + 4 * 2) / 40)  # 4.2 ms, not the syncs' 0.5
    assert t.by_slots == pytest.approx(2000 / 20.2)
    assert t.by_cpu == pytest.approx(2000 / 4.2)
    assert t.syncs_per_second == pytest.approx(2000 / 20.2)
    assert t.wait_ms == pytest.approx(10.0) and t.load == pytest.approx(3.0)
    # Little's law sizes with the same slot time: 300 syncs/s x 20.2 ms in flight.
    assert estimate(PROBE, 90_000, "5m", concurrency=1).in_flight == pytest.approx(300 * 0.0202)
    text = run("--kind", PROBE, "--items", "1000", "--processes", "2", "--concurrency", "1")
    assert "99.0 syncs/s (slots bound" in text and "over 4 chunks at load 3.0" in text
    assert "10.00 ms of it waiting for a CPU" in text


@pytest.mark.django_db
def test_a_busy_slots_time_between_messages_is_all_overhead():
    seed(100, duration_ms=4)
    chunks(4, queue=10.0)  # the message came after the slot was free: idle, not overhead
    assert throughput(PROBE, 1, concurrency=1).slot_ms == pytest.approx(20.2)
    ChunkRun.objects.all().delete()
    chunks(4, queue=500.0)  # the message was waiting: the 50 ms gap was the slot's
    # (4 x 200 + 4 x 50) / 40 = 25 ms; the CPU still counts the 2 ms between.
    t = throughput(PROBE, 1, concurrency=1)
    assert t.slot_ms == pytest.approx(25.0) and t.cpu_ms == pytest.approx(4.2)


@pytest.mark.django_db
def test_the_wait_for_a_cpu_scales_with_the_load_and_the_cpu_ceiling_binds():
    seed(100, duration_ms=4)
    chunks(4)  # 10 ms per attempt of waiting for a CPU at load 3
    t = throughput(PROBE, 2, concurrency=1, cores=2, at_load=0)
    assert t.slot_ms == pytest.approx(10.2) and t.at_load == 0
    assert throughput(PROBE, 2, concurrency=1, at_load=6).slot_ms == pytest.approx(30.2)
    assert throughput(PROBE, 2, concurrency=1, at_load=1.5).slot_ms == pytest.approx(15.2)
    text = run("--kind", PROBE, "--items", "10", "--processes", "1", "--at-load", "1.5")
    assert "(that wait scaled to load 1.5)" in text and "15.20 ms per attempt" in text
    # 4 processes of 8 threads on 2 cores: 32 slots would do 1,584/s; the CPU allows 476/s.
    t = throughput(PROBE, 4, concurrency=8, cores=2)
    assert t.syncs_per_second == pytest.approx(2000 / 4.2)
    assert "(CPU bound" in run(
        "--kind", PROBE, "--items", "1000", "--processes", "4", "--concurrency", "8", "--cores", "2"
    )


@pytest.mark.django_db
def test_since_and_until_choose_the_records():
    seed(100, duration_ms=4)
    now = timezone.now()
    early_attempts = SyncAttempt.objects.filter(item_id__lt=50)
    early_attempts.update(started_at=F("started_at") - timedelta(hours=2))
    chunks(4, at=now - timedelta(hours=2), wall_ms=400.0)
    chunks(4, at=now - timedelta(minutes=30), wall_ms=100.0)
    early = throughput(PROBE, 1, concurrency=1, until=now - timedelta(hours=1))
    late = throughput(PROBE, 1, concurrency=1, since=now - timedelta(hours=1))
    assert early.slot_ms == pytest.approx(40.2) and late.slot_ms == pytest.approx(10.2)
    since = (now - timedelta(hours=1)).isoformat()
    text = run("--kind", PROBE, "--items", "10", "--processes", "1", "--concurrency", "1")
    assert "over 8 chunks" in text
    text = run(
        "--kind", PROBE, "--items", "10", "--processes", "1", "--concurrency", "1", "--since", since
    )
    assert "over 4 chunks" in text and "98.0 syncs/s" in text


@pytest.mark.django_db
def test_without_chunk_records_it_falls_back_to_the_attempts():
    seed(100, duration_ms=4, cpu_ms=2.0)
    chunks(2)  # below MIN_CHUNKS: not enough to tell
    t = throughput(PROBE, 2, concurrency=1, cores=2)
    assert t.chunks == 0 and t.slot_ms == pytest.approx(4) and t.cpu_ms == pytest.approx(2)
    text = run("--kind", PROBE, "--items", "10", "--processes", "2", "--concurrency", "1")
    assert "no chunk records" in text and "500.0 syncs/s" in text


@pytest.mark.django_db
def test_record_writes_the_chunk_with_its_own_times():
    chunkruns._slot.ended = None  # this thread's first chunk
    clock = ChunkClock()
    sum(i * i for i in range(200_000))  # some CPU inside the chunk
    record(PROBE, "5m", clock, claimed=12, items=10)
    second = ChunkClock()
    record(PROBE, "5m", second, claimed=1, items=1)
    first, then = ChunkRun.objects.order_by("pk")
    assert (first.kind, first.tier, first.claimed, first.items) == (PROBE, "5m", 12, 10)
    assert 0 < first.cpu_ms <= first.wall_ms + 1
    assert first.worker.endswith(f":{os.getpid()}") and first.load is not None
    assert first.between_ms is None and first.cpu_wait_ms is not None  # Linux schedstat
    assert then.between_ms is not None and then.between_ms >= 0


@pytest.mark.django_db
def test_prune_drops_chunk_records_past_retention(settings):
    settings.SYNC_ATTEMPT_RETENTION_DAYS = 7
    now = timezone.now()
    chunks(3, at=now - timedelta(days=9))
    chunks(3, at=now - timedelta(days=1))
    prune(now)
    assert ChunkRun.objects.count() == 3


@pytest.mark.worker
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_records_each_chunk():
    from syncing.models import SyncAttempt
    from syncing.services.dispatch import dispatch_tier
    from tests.support.worker import celery_worker, purge_broker
    from tests.syncing.factories import make_probes
    from tests.syncing.test_worker import wait_until

    purge_broker()
    make_probes(250)
    started = timezone.now()
    with celery_worker(queues="default", concurrency=1) as worker:
        assert dispatch_tier(PROBE, "5m").messages == 3  # chunks of 100
        assert wait_until(lambda: ChunkRun.objects.filter(kind=PROBE).count() == 3), worker.log
    purge_broker()
    runs = list(ChunkRun.objects.filter(kind=PROBE).order_by("started_at"))
    assert sorted(r.claimed for r in runs) == [50, 100, 100]
    assert sum(r.items for r in runs) == 250 == SyncAttempt.objects.filter(kind=PROBE).count()
    for r in runs:
        assert r.tier == "5m" and r.worker and r.started_at >= started
        assert r.load is not None and r.cpu_wait_ms is not None
        assert 0 < r.cpu_ms <= r.wall_ms + 1 and r.wall_ms < 30_000
        assert r.queue_ms is not None and 0 <= r.queue_ms < 60_000
        # The chunk's wall time holds its syncs (floored ms) and the engine's work around.
        own = SyncAttempt.objects.filter(
            kind=PROBE,
            started_at__gte=r.started_at,
            started_at__lte=r.started_at + timedelta(milliseconds=r.wall_ms),
        )
        assert sum(a.duration_ms for a in own) <= r.wall_ms
    # One slot ran the three messages one after the other: the later two know the gap.
    assert runs[0].between_ms is None or runs[0].between_ms >= 0
    assert all(r.between_ms is not None and r.between_cpu_ms >= 0 for r in runs[1:])


@pytest.mark.django_db(transaction=True)
def test_a_chunk_whose_record_cannot_be_written_still_finishes_its_items(caplog):
    """The record comes after the chunk's last flush: the database refusing it (here its
    table is gone) is logged, and the items stay synced and rescheduled."""
    from django.db import connection

    from syncing.kinds import get_kind
    from syncing.models import Probe
    from syncing.services.claims import claim_due_items
    from syncing.services.runs import run_claimed
    from tests.syncing.factories import make_probes

    probes = make_probes(3)
    claim = claim_due_items(get_kind(PROBE), "5m", 10)
    table = connection.ops.quote_name(ChunkRun._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO chunkrun_away")
    try:
        report = run_claimed(PROBE, claim.token, claim.pks)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE chunkrun_away RENAME TO {table}")
    assert report.ran == 3
    assert "chunk run not recorded" in caplog.text
    assert not ChunkRun.objects.exists()
    rows = Probe.objects.filter(pk__in=[p.pk for p in probes])
    assert rows.filter(lease_token__isnull=True, next_sync_at__gt=timezone.now()).count() == 3
    assert SyncAttempt.objects.filter(kind=PROBE).count() == 3


@pytest.mark.django_db
def test_the_cpu_moves_with_the_wait_for_a_cpu_by_the_chunks_own_fit():
    """Chunks whose CPU per attempt grows 0.2 ms per ms of waiting (1 + 0.2 x wait): the
    fit finds 0.2, and --at-load moves the CPU with the scaled wait, never below the
    cheapest chunk's."""
    seed(100, duration_ms=4)
    at = timezone.now() - timedelta(minutes=5)
    ChunkRun.objects.bulk_create(
        ChunkRun(
            kind=PROBE,
            worker="host:1",
            started_at=at + timedelta(seconds=i),
            claimed=10,
            items=10,
            wall_ms=10 * (5.0 + wait + 0.2 * wait),
            cpu_ms=10 * (1.0 + 0.2 * wait),
            cpu_wait_ms=10 * wait,
            load=4.0,
        )
        for i, wait in enumerate([1.0, 2.0, 3.0, 4.0, 5.0] * 5)  # 25 chunks, mean wait 3
    )
    t = throughput(PROBE, 2, concurrency=1, cores=2)
    assert t.cpu_per_wait == pytest.approx(0.2)
    assert t.cpu_ms == pytest.approx(1.6) and t.wait_ms == pytest.approx(3.0)
    assert t.slot_ms == pytest.approx(5.0 + 3.0 + 0.6)
    doubled = throughput(PROBE, 2, concurrency=1, cores=2, at_load=8)  # wait 6 ms
    assert doubled.cpu_ms == pytest.approx(1.0 + 0.2 * 6)
    assert doubled.slot_ms == pytest.approx(5.0 + 6.0 + 1.2)
    quiet = throughput(PROBE, 2, concurrency=1, cores=2, at_load=0)  # floor: 1.2 at wait 1
    assert quiet.cpu_ms == pytest.approx(1.2) and quiet.slot_ms == pytest.approx(5.0 + 0.2)
    text = run("--kind", PROBE, "--items", "10", "--processes", "2", "--at-load", "8")
    assert "the CPU with it by 0.20 ms per ms of waiting" in text
