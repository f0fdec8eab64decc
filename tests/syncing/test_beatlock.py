"""Exactly one beat: two real ``celery -A config beat`` processes, one dispatches, the other
waits and says so; when the first dies (kill -9), the second takes over."""

from __future__ import annotations

import time

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from tests.support.worker import app_redis_env, celery_beat, purge_broker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
SENT = "Sending due task beatlock-probe"


def every_second_task() -> None:
    every, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="beatlock-probe", task="syncing.monitoring.rollup", interval=every, queue="default"
    )


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
        "file",
    ],
)
def test_a_second_beat_waits_and_takes_over_when_the_first_dies(mode):
    every_second_task()
    env = {"BEAT_LOCK": mode, "BEAT_LOCK_RETRY_SECONDS": "0.3", "BEAT_LOCK_TTL_SECONDS": "3"}
    env.update(app_redis_env() if mode == "redis" else {})
    try:
        with celery_beat(env=env) as first:
            first.wait_for("beat lock: acquired", timeout=60)
            with celery_beat(env=env) as second:
                second.wait_for("waits and takes over when it stops", timeout=60)
                first.wait_for(SENT, timeout=30)
                time.sleep(3)
                assert first.log.count(SENT) >= 3
                assert "Sending due task" not in second.log, "the waiting beat dispatched"
                assert "beat lock: acquired" not in second.log

                first.kill_hard()
                killed = time.monotonic()
                second.wait_for("beat lock: acquired", timeout=30)
                second.wait_for(SENT, timeout=30)
                took_over = time.monotonic() - killed
        # PostgreSQL and flock free the lock when the process dies; Redis when its TTL ends.
        assert took_over < (3 + 3 if mode == "redis" else 3), took_over
    finally:
        purge_broker()


@pytest.mark.postgres
def test_a_beat_that_lost_its_lock_stops_itself():
    """PostgreSQL ends the holder's session (a restart, an admin): the waiting beat takes
    the lock, and the old holder, finding it gone, stops instead of dispatching too."""
    from django.db import connection

    every_second_task()
    waiter_env = {"BEAT_LOCK": "postgres", "BEAT_LOCK_RETRY_SECONDS": "0.3"}
    # The holder checks its lock every 2 s (and takes it back if its session broke but the
    # lock is free): ended just after one of its checks, the waiter, retrying every 0.3 s,
    # gets there first. Ended at any moment, the holder's next check could come first (on a
    # machine where both start in a steady rhythm it did, run after run).
    holder_env = {**waiter_env, "BEAT_LOCK_TTL_SECONDS": "6"}
    try:
        with celery_beat(env=holder_env) as first:
            first.wait_for("beat lock: acquired", timeout=60)
            with celery_beat(env=waiter_env) as second:
                second.wait_for("waits and takes over when it stops", timeout=60)
                with connection.cursor() as cursor:
                    holder = _just_checked_lock_holder(cursor)
                    cursor.execute("SELECT pg_terminate_backend(%s)", [holder])
                    assert cursor.fetchall() == [(True,)]
                second.wait_for("beat lock: acquired", timeout=30)
                first.wait_for("beat lock: lost the PostgreSQL advisory lock", timeout=30)
                first.process.wait(timeout=30)  # it stopped itself
                second.wait_for(SENT, timeout=30)
    finally:
        purge_broker()


def _just_checked_lock_holder(cursor, timeout: float = 10.0) -> int:
    """The pid of the session holding the beat's advisory lock, once its keeper has just
    checked it (its last statement, ``SELECT 1``, ended under 0.2 s ago)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cursor.execute(
            "SELECT a.pid, a.query, extract(epoch FROM clock_timestamp() - a.state_change) "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()"
        )
        rows = cursor.fetchall()
        assert len(rows) == 1, rows
        pid, query, age = rows[0]
        if query.strip() == "SELECT 1" and age < 0.2:
            return pid
        time.sleep(0.02)
    raise AssertionError("the lock's keeper never checked it")
