"""The engine with a real Celery worker process, Redis broker and PostgreSQL."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from syncing.models import Probe, SyncAttempt
from syncing.services.dispatch import dispatch_tier, sync_now
from tests.support.worker import (
    app_redis_env,
    celery_beat,
    celery_worker,
    on_rabbitmq,
    purge_broker,
    runs_now,
)
from tests.syncing.factories import make_probes

pytestmark = [
    pytest.mark.worker,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def wait_until(predicate, timeout=30.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def wait_until_taken(probe, worker) -> None:
    """The worker took the chunk (log lines from the worker's two processes are not a
    reliable signal)."""
    assert wait_until(lambda: runs_now(Probe, probe.pk), timeout=20), worker.log[-3000:]


@pytest.fixture(autouse=True)
def _clean_broker():
    purge_broker()
    yield
    purge_broker()


def test_dispatch_fans_out_and_the_worker_syncs_every_item_once():
    make_probes(250)
    with celery_worker() as worker:
        report = dispatch_tier("syncing.probe", "5m")
        assert report.claimed == 250
        assert report.messages == 3  # chunks of 100
        assert wait_until(lambda: SyncAttempt.objects.filter(kind="syncing.probe").count() == 250)
        assert wait_until(lambda: not Probe.objects.filter(lease_token__isnull=False).exists())
    assert SyncAttempt.objects.filter(outcome="ok").count() == 250
    assert Probe.objects.filter(last_success_at__isnull=True).count() == 0
    assert "Traceback" not in worker.log


def test_on_demand_sync_goes_through_the_same_path():
    probe = make_probes(1, due=timezone.now() + timedelta(hours=1))[0]
    with celery_worker():
        assert sync_now("syncing.probe", probe.pk)
        assert wait_until(lambda: SyncAttempt.objects.filter(item_id=probe.pk).exists())
    probe.refresh_from_db()
    assert probe.last_success_at is not None


def test_a_worker_killed_mid_sync_loses_nothing(settings):
    """SIGKILL the whole worker while it syncs; the lease expires, the next dispatch
    claims the item again, and a new worker syncs it. Exactly one successful attempt."""
    settings.SYNC_LEASE_SECONDS = 3
    probe = make_probes(1, mode=Probe.Mode.SLOW, sleep_ms=20_000)[0]
    with celery_worker(concurrency=1, env={"SYNC_LEASE_SECONDS": "3"}) as worker:
        assert dispatch_tier("syncing.probe", "5m").claimed == 1
        wait_until_taken(probe, worker)
        time.sleep(0.5)
        worker.kill_hard()
    assert not SyncAttempt.objects.filter(item_id=probe.pk).exists()
    Probe.objects.filter(pk=probe.pk).update(sleep_ms=0)
    # The new claim's message lives as long as its lease (RabbitMQ drops it then): long
    # enough for the new worker to start on a busy machine.
    settings.SYNC_LEASE_SECONDS = 60
    assert wait_until(
        lambda: dispatch_tier("syncing.probe", "5m").claimed == 1, timeout=10, interval=0.5
    ), "the item should be due again once its lease expired"
    with celery_worker(concurrency=1):
        assert wait_until(lambda: SyncAttempt.objects.filter(item_id=probe.pk).exists())
    probe.refresh_from_db()
    assert probe.last_success_at is not None and probe.lease_token is None
    assert SyncAttempt.objects.filter(item_id=probe.pk, outcome="ok").count() == 1


def test_a_pool_process_killed_mid_sync_is_redelivered_at_once():
    """acks_late + reject_on_worker_lost: the message goes back to the queue when its pool
    process dies, and the same claim (still holding its lease) is synced by another."""
    probe = make_probes(1, mode=Probe.Mode.SLOW, sleep_ms=3_000)[0]
    with celery_worker(concurrency=1) as worker:
        dispatch_tier("syncing.probe", "5m")
        wait_until_taken(probe, worker)
        time.sleep(0.5)
        children = worker.pool_children()
        assert children
        import os
        import signal

        os.kill(children[0], signal.SIGKILL)
        Probe.objects.filter(pk=probe.pk).update(sleep_ms=0)
        assert wait_until(lambda: SyncAttempt.objects.filter(item_id=probe.pk).exists(), timeout=30)
        assert "WorkerLostError" in worker.log or "exited with 'signal 9" in worker.log
    probe.refresh_from_db()
    assert probe.last_success_at is not None


def test_a_failing_item_is_rescheduled_with_backoff_by_the_worker():
    probe = make_probes(1, mode=Probe.Mode.PERMANENT)[0]
    with celery_worker():
        before = timezone.now()
        dispatch_tier("syncing.probe", "5m")
        assert wait_until(lambda: SyncAttempt.objects.filter(item_id=probe.pk).exists())
        assert wait_until(lambda: Probe.objects.get(pk=probe.pk).lease_token is None)
    probe.refresh_from_db()
    assert probe.consecutive_failures == 1
    # Full jitter (syncing.backoff): somewhere in the first minute.
    assert before <= probe.next_sync_at <= before + timedelta(seconds=61)
    attempt = SyncAttempt.objects.get(item_id=probe.pk)
    assert attempt.outcome == "failed" and attempt.reason == "probe_permanent"


def test_beat_fires_dispatch_which_claims_and_the_worker_syncs():
    """The whole path: beat's periodic task (from the Tier row), dispatch, broker, worker."""
    from syncing.models import Tier

    tier = Tier.objects.get(kind="syncing.probe", name="1m")
    tier.dispatch_every = timedelta(seconds=1)
    tier.save()
    make_probes(20, tier="1m")
    with celery_worker(), celery_beat() as beat:
        assert wait_until(
            lambda: SyncAttempt.objects.filter(kind="syncing.probe", tier="1m").count() == 20,
            timeout=45,
        ), beat.log[-2000:]
    assert "syncing.dispatch" in beat.log


def test_live_workers_announce_themselves_and_leave_on_shutdown(settings):
    from syncing.monitoring.workers import live_workers

    if on_rabbitmq():  # heartbeats live in the app's Redis when the broker is not Redis
        settings.REDIS_URL = settings.TEST_REDIS_URL
    with celery_worker(queues="io,default", env=app_redis_env()):
        assert wait_until(lambda: len(live_workers() or []) == 1, timeout=15)
        (worker,) = live_workers()
        assert worker["queues"] == ["default", "io"]
    assert wait_until(lambda: live_workers() == [], timeout=15)
