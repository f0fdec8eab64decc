"""A real worker keeps its PostgreSQL sessions across tasks and recovers from a dead one."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from syncing.models import SyncAttempt
from syncing.services.dispatch import sync_now
from tests.support.worker import celery_worker, purge_broker
from tests.syncing.factories import make_probes

pytestmark = [
    pytest.mark.worker,
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(autouse=True)
def _clean_broker():
    purge_broker()
    yield
    purge_broker()


def sessions_opened() -> int:
    """Sessions ever opened on the test database (PostgreSQL 14+), after the other
    backends have reported theirs (they flush their statistics within a second)."""
    time.sleep(1.5)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def sync_one_by_one(probes, timeout: float = 60.0) -> None:
    """One task per probe, each waited for, so no two share a message or a connection."""
    for probe in probes:
        seen = SyncAttempt.objects.filter(item_id=probe.pk).count()
        assert sync_now("syncing.probe", probe.pk, force=True)
        deadline = time.monotonic() + timeout
        while SyncAttempt.objects.filter(item_id=probe.pk).count() == seen:
            assert time.monotonic() < deadline, "the worker never synced the probe"
            time.sleep(0.05)
        while not SyncAttempt.objects.filter(item_id=probe.pk, outcome="ok").exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_many_tasks_run_on_few_sessions_and_a_killed_session_is_replaced():
    probes = make_probes(33, due=timezone.now() + timedelta(hours=1))
    with celery_worker(concurrency=2) as worker:
        sync_one_by_one(probes[:3])  # both children have connected by now (or will once)
        before = sessions_opened()
        sync_one_by_one(probes[3:28])
        opened = sessions_opened() - before
        # Closing around every task opened ~2 sessions per task (50 here).
        assert opened <= 3, opened

        with connection.cursor() as cursor:  # PostgreSQL restarts under the worker
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            )
            assert cursor.fetchone()[0] >= 1
        sync_one_by_one(probes[28:])
    assert SyncAttempt.objects.filter(outcome="ok").count() == 33
    assert "Traceback" not in worker.log
