"""Attempts in daily partitions on PostgreSQL: made ahead, an insert lands in its day, the
expired days are dropped whole and nothing else, DEFAULT's rows are never lost; elsewhere
pruning deletes in batches."""

from __future__ import annotations

import threading
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from syncing.models import SyncAttempt
from syncing.monitoring import partitions
from syncing.monitoring.rollups import delete_in_batches, prune

DAY = timedelta(days=1)


def attempt(started_at, item_id=1):
    return SyncAttempt.objects.create(
        kind="syncing.probe", item_id=item_id, tier="5m", started_at=started_at, outcome="ok"
    )


def table_of(attempt_pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tableoid::regclass::text FROM syncing_syncattempt WHERE id = %s", [attempt_pk]
        )
        return cursor.fetchone()[0]


pg = pytest.mark.postgres


@pg
@pytest.mark.django_db
def test_partitions_are_made_ahead_and_an_insert_lands_in_its_day(settings):
    settings.SYNC_ATTEMPT_PARTITION_DAYS_AHEAD = 3
    now = timezone.now()
    assert partitions.partitioned()
    prune(now)
    today = partitions.day_floor(now)
    names = partitions.partitions()
    for offset in range(4):
        assert partitions.partition_name(today + offset * DAY) in names
    row = attempt(now)
    assert table_of(row.pk) == partitions.partition_name(today)
    assert SyncAttempt.objects.get(pk=row.pk).started_at == row.started_at


@pg
@pytest.mark.django_db
def test_rotation_drops_exactly_the_expired_days_and_keeps_the_rest(settings):
    settings.SYNC_ATTEMPT_RETENTION_DAYS = 3
    now = timezone.now()
    today = partitions.day_floor(now)
    # Partitions for the last week, whatever the test database was made with.
    partitions.rotate(now - 7 * DAY, now - 400 * DAY, days_ahead=7, batch=100)
    old, kept = attempt(now - 5 * DAY), [attempt(now - DAY), attempt(now)]
    ancient = attempt(now - 400 * DAY)  # no partition for that day: DEFAULT
    assert table_of(ancient.pk) == partitions.DEFAULT
    before = partitions.partitions()
    cutoff = now - 3 * DAY

    report = prune(now)

    after = partitions.partitions()
    expired = {name for name, day in before.items() if day + DAY <= cutoff}
    assert partitions.partition_name(today - 5 * DAY) in expired
    assert partitions.partition_name(today - 3 * DAY) not in expired  # its day is not over
    assert set(before) - set(after) == expired
    assert report.attempts == 2  # one dropped with its day, one deleted from DEFAULT
    assert not SyncAttempt.objects.filter(pk__in=[old.pk, ancient.pk]).exists()
    assert SyncAttempt.objects.filter(pk__in=[a.pk for a in kept]).count() == 2
    # Run again: nothing left to drop.
    assert prune(now).attempts == 0
    assert set(partitions.partitions()) == set(after)


@pg
@pytest.mark.django_db
def test_an_attempt_in_default_moves_into_its_day_when_the_partition_is_made():
    now = timezone.now()
    far = partitions.day_floor(now) + 40 * DAY
    early = attempt(far + timedelta(hours=5))
    assert table_of(early.pk) == partitions.DEFAULT

    report = partitions.rotate(far - DAY, now - 400 * DAY, days_ahead=2, batch=100)

    assert partitions.partition_name(far) in report.created
    assert table_of(early.pk) == partitions.partition_name(far)
    assert SyncAttempt.objects.filter(pk=early.pk).count() == 1


@pg
@pytest.mark.django_db(transaction=True)
def test_a_second_rotation_at_the_same_time_skips_instead_of_waiting():
    params = connection.get_connection_params()
    keys = ("dbname", "user", "password", "host", "port")
    with psycopg.connect(**{k: params[k] for k in keys if params.get(k)}) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [partitions.LOCK_KEY])
        report = partitions.rotate(
            timezone.now(), timezone.now() - 400 * DAY, days_ahead=1, batch=10
        )
        other.execute("SELECT pg_advisory_unlock(%s)", [partitions.LOCK_KEY])
    assert report.skipped and not report.created and not report.dropped


@pg
@pytest.mark.django_db(transaction=True)
def test_a_partition_is_made_while_attempts_of_its_day_are_being_written():
    """A day's attempts written into DEFAULT while its partition is being made (rotation
    after an outage: today has no partition yet) are moved with the others: the rotation
    neither fails on them (and with it every drop of that hour) nor loses them."""
    now = timezone.now()
    far = partitions.day_floor(now) + 50 * DAY
    early = attempt(far + timedelta(hours=1))
    params = connection.get_connection_params()
    keys = ("dbname", "user", "password", "host", "port")
    try:
        with psycopg.connect(**{k: params[k] for k in keys if params.get(k)}) as other:
            other.execute(  # a worker's insert of that day, committed a moment later
                "INSERT INTO syncing_syncattempt (kind, item_id, tier, started_at, duration_ms,"
                " outcome, reason, message, bytes, items_changed, retries, counts)"
                " VALUES ('syncing.probe', 2, '5m', %s, 0, 'ok', '', '', 0, 0, 0, '{}')",
                [far + timedelta(hours=2)],
            )
            timer = threading.Timer(1.0, other.commit)
            timer.start()
            report = partitions.rotate(far, now - 400 * DAY, days_ahead=1, batch=100)
            timer.join()
        assert partitions.partition_name(far) in report.created
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tableoid::regclass::text, item_id FROM syncing_syncattempt"
                " WHERE started_at >= %s ORDER BY item_id",
                [far],
            )
            rows = cursor.fetchall()
        assert rows == [(partitions.partition_name(far), 1), (partitions.partition_name(far), 2)]
        assert early.pk
    finally:
        with connection.cursor() as cursor:
            for offset in (-1, 0, 1, 2):
                name = partitions.partition_name(far + offset * DAY)
                cursor.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.mark.django_db
def test_without_partitions_pruning_deletes_in_batches(settings):
    now = timezone.now()
    SyncAttempt.objects.bulk_create(
        SyncAttempt(
            kind="syncing.probe", item_id=i, started_at=now - 10 * DAY, outcome="ok", tier="5m"
        )
        for i in range(5)
    )
    recent = attempt(now)
    with CaptureDeletes() as deletes:
        assert delete_in_batches(now - 7 * DAY, batch=2) == 5
    assert deletes.count == 3  # 2 + 2 + 1
    assert list(SyncAttempt.objects.values_list("pk", flat=True)) == [recent.pk]
    if not partitions.partitioned():
        settings.SYNC_ATTEMPT_RETENTION_DAYS = 7
        attempt(now - 10 * DAY)
        assert prune(now).attempts == 1


class CaptureDeletes:
    """Counts the DELETE statements on the attempts table."""

    def __enter__(self):
        self.count = 0
        self._hook = connection.execute_wrapper(self)
        self._hook.__enter__()
        return self

    def __call__(self, execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("DELETE") and "syncing_syncattempt" in sql:
            self.count += 1
        return execute(sql, params, many, context)

    def __exit__(self, *exc):
        self._hook.__exit__(*exc)
