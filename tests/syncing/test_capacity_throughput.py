"""capacity's predictions: what N worker processes sustain, and web machines for HTTP."""

from datetime import timedelta

import pytest
from django.core.management import CommandError
from django.utils import timezone

from syncing.models import SyncAttempt
from syncing.monitoring.capacity import estimate, throughput, web_estimate
from tests.syncing.test_monitoring_capacity import PROBE, run


def seed(n, *, duration_ms, cpu_ms=None):
    now = timezone.now()
    SyncAttempt.objects.bulk_create(
        SyncAttempt(
            kind=PROBE,
            item_id=i,
            tier="5m",
            started_at=now - timedelta(seconds=i),
            duration_ms=duration_ms,
            outcome="not_modified",
            counts={} if cpu_ms is None else {"cpu_ms": cpu_ms},
        )
        for i in range(n)
    )


def seed_chunks(chunks, *, size=10, duration_ms=10, between_ms=5):
    """Attempts as a chunk writes them: one after the other, ids in run order."""
    start = timezone.now() - timedelta(minutes=10)
    rows = []
    for c in range(chunks):
        at = start + timedelta(seconds=2 * c)  # chunks apart: no pair across them
        for i in range(size):
            rows.append(
                SyncAttempt(
                    kind=PROBE,
                    item_id=c * size + i,
                    tier="5m",
                    started_at=at,
                    duration_ms=duration_ms,
                    outcome="not_modified",
                    counts={"cpu_ms": 1.0},
                )
            )
            at += timedelta(milliseconds=duration_ms + between_ms)
    SyncAttempt.objects.bulk_create(rows)


@pytest.mark.django_db
def test_throughput_is_bound_by_cpu_on_the_cores_there_are():
    seed(100, duration_ms=4, cpu_ms=2.0)
    # Slots: 2 processes x 1 slot / 4 ms = 500/s; CPU: 2 cores x 1000 / 2 ms = 1,000/s.
    t = throughput(PROBE, 2, concurrency=1, cores=2)
    assert t.by_slots == pytest.approx(500)
    assert t.by_cpu == pytest.approx(1000)
    assert t.syncs_per_second == pytest.approx(500)
    # 4 processes of 8 threads on 2 cores: the CPU binds (2 x 500/s).
    assert throughput(PROBE, 4, concurrency=8, cores=2).syncs_per_second == pytest.approx(1000)
    text = run("--kind", PROBE, "--items", "10000", "--processes", "2", "--concurrency", "1")
    assert "500.0 syncs/s (slots bound" in text and "takes about 20.0 s" in text


@pytest.mark.django_db
def test_throughput_without_cpu_measured_uses_the_slots():
    seed(60, duration_ms=10)
    t = throughput(PROBE, 1, concurrency=2)
    assert t.by_cpu is None and t.syncs_per_second == pytest.approx(200)


def test_web_machines_from_the_measured_rate_with_headroom():
    # 2,000 x 1.3 headroom / 300 per machine = 8.7 -> 9 machines.
    assert web_estimate(2000, 300).machines == 9
    text = run("--requests", "2000", "--per-machine", "300")
    assert "9 web machine(s)" in text
    with pytest.raises(CommandError, match="per-machine"):
        run("--requests", "2000")
    with pytest.raises(CommandError, match="--kind and --items"):
        run("--items", "5")


@pytest.mark.django_db
def test_a_slot_also_spends_the_engines_time_between_syncs():
    # 10 chunks of 10: each sync 10 ms, 5 ms of the engine's own before the next one.
    seed_chunks(10, duration_ms=10, between_ms=5)
    t = throughput(PROBE, 2, concurrency=1, cores=2)
    assert t.gap_ms == pytest.approx(5, abs=0.01)
    # 2 slots / 15 ms = 133/s, not 2 / 10 ms = 200/s; the CPU (2 x 1,000/s) does not bind.
    assert t.syncs_per_second == pytest.approx(2000 / 15, rel=0.01)
    # Little's law sizes the processes with the same 15 ms per attempt.
    assert estimate(PROBE, 90_000, "5m", concurrency=1).in_flight == pytest.approx(
        300 * 0.015, rel=0.01
    )
