"""Manual-sync allowances: one count per owner shared by every process, over a sliding
hour, on Redis when configured and on the database otherwise."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from syncing.allowances import reset_allowance_clients, take_manual_sync
from syncing.models import ManualSyncUse
from syncing.plans import manual_sync_take
from tests.conftest import make_owner

CLOCK_HOUR = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request, settings):
    """Each test runs on both stores: the database (no REDIS_URL) and the test Redis."""
    if request.param == "redis":
        settings.REDIS_URL = settings.TEST_REDIS_URL
    else:
        settings.REDIS_URL = ""
    reset_allowance_clients()
    yield request.param
    if request.param == "redis":
        import redis

        client = redis.Redis.from_url(settings.TEST_REDIS_URL)
        for key in client.scan_iter("syncbeat:manual-sync:*"):
            client.delete(key)
    reset_allowance_clients()


@pytest.mark.django_db
def test_a_burst_across_the_clock_hour_does_not_double_the_allowance(backend):
    owner = make_owner(f"burst-{backend}@example.com", plan="free")  # 2 per hour
    before = CLOCK_HOUR - timedelta(seconds=30)
    assert take_manual_sync(owner, 2, now=before).allowed
    assert take_manual_sync(owner, 2, now=before + timedelta(seconds=1)).allowed
    refused = take_manual_sync(owner, 2, now=before + timedelta(seconds=2))
    assert not refused.allowed and 3590 <= refused.retry_after <= 3600

    # A new clock hour starts: a per-hour counter would allow two more here.
    after = CLOCK_HOUR + timedelta(seconds=30)
    late = take_manual_sync(owner, 2, now=after)
    assert not late.allowed
    assert late.retry_after == 3600 - 60  # the first request leaves the window at 11:59:30

    # An hour after the first request, one slot is free again (and only one).
    assert take_manual_sync(owner, 2, now=before + timedelta(hours=1, seconds=0.5)).allowed
    assert not take_manual_sync(owner, 2, now=before + timedelta(hours=1, seconds=0.7)).allowed


@pytest.mark.django_db(transaction=True)
def test_two_processes_share_one_count(backend):
    """Eight threads (each with its own database connection, like separate web processes)
    ask at once, five times each: a free owner gets exactly two."""
    owner = make_owner(f"shared-{backend}@example.com", plan="free")
    other = make_owner(f"other-{backend}@example.com", plan="free")
    answers: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def web_process():
        try:
            start.wait()
            for _ in range(5):
                allowed, _ = manual_sync_take(owner)
                with lock:
                    answers.append(allowed)
        finally:
            connection.close()

    threads = [threading.Thread(target=web_process) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == 40
    assert answers.count(True) == 2
    assert manual_sync_take(other)[0], "another owner's allowance is their own"


@pytest.mark.django_db
def test_old_uses_are_pruned_from_the_database(settings):
    settings.REDIS_URL = ""
    owner = make_owner("prune@example.com", plan="free")
    for minutes in (0, 30, 61, 90):
        take_manual_sync(owner, 2, now=CLOCK_HOUR + timedelta(minutes=minutes))
    # Each request is allowed (the oldest has just left), and only the window's rows stay.
    assert ManualSyncUse.objects.filter(user=owner).count() == 2


@pytest.mark.django_db
def test_a_broken_redis_falls_back_to_the_database(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    reset_allowance_clients()
    owner = make_owner("fallback@example.com", plan="free")
    answers = [manual_sync_take(owner)[0] for _ in range(3)]
    assert answers == [True, True, False]
    assert ManualSyncUse.objects.filter(user=owner).count() == 2
    reset_allowance_clients()


@pytest.mark.django_db
def test_the_nightly_prune_forgets_uses_past_the_window(settings):
    from syncing.monitoring.rollups import prune

    settings.REDIS_URL = ""
    owner = make_owner("quiet@example.com", plan="free")
    take_manual_sync(owner, 2, now=CLOCK_HOUR - timedelta(hours=2))
    take_manual_sync(owner, 2, now=CLOCK_HOUR - timedelta(minutes=10))
    prune(CLOCK_HOUR)
    assert list(ManualSyncUse.objects.values_list("at", flat=True)) == [
        CLOCK_HOUR - timedelta(minutes=10)
    ]
