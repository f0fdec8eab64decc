"""Attempts in daily partitions on PostgreSQL: made ahead, dropped when their day is past.

Migration 0009 turns ``syncing_syncattempt`` into a table partitioned by range of
``started_at``: one partition per UTC day (``syncing_syncattempt_pYYYYMMDD``) and a DEFAULT
partition, so an insert never fails even if maintenance has not run. ``rotate`` (called by
the hourly prune) makes the next days' partitions, drops every partition whose whole day is
past retention (no row is deleted: a DROP costs the same at 10 rows or 10 million), and
deletes in batches the few rows past retention that sit in the DEFAULT partition. A day
that got rows in DEFAULT before its partition existed gets them moved into the new one.

Two runs at once are safe: the DDL runs under a transaction-scoped advisory lock (the second
run skips it) with a short lock_timeout, so maintenance waits for writers briefly and gives
up (retried the next hour) rather than holding inserts behind it. Other databases: not
partitioned, ``syncing.monitoring.rollups.prune`` deletes in batches.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

logger = logging.getLogger("syncing.monitoring")

TABLE = "syncing_syncattempt"
DEFAULT = f"{TABLE}_default"
DAY = timedelta(days=1)
LOCK_KEY = 0x5B_A77E_0914  # pg advisory lock: attempts' partition maintenance
LOCK_TIMEOUT = "5s"
_NAME = re.compile(rf"^{TABLE}_p(\d{{8}})$")


@dataclass
class Rotation:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    rows_dropped: int = 0
    rows_deleted: int = 0
    skipped: bool = False


def day_floor(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def partitioned() -> bool:
    """Whether the attempts table is partitioned here (PostgreSQL after migration 0009)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
            [TABLE],
        )
        return cursor.fetchone() is not None


def partitions() -> dict[str, datetime]:
    """The daily partitions by name, each with its day (UTC midnight)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        names = [row[0] for row in cursor.fetchall()]
    days = {}
    for name in names:
        match = _NAME.match(name)
        if match:
            days[name] = datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC)
    return days


def partition_name(day: datetime) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def rotate(now: datetime, cutoff: datetime, *, days_ahead: int, batch: int) -> Rotation:
    """Make partitions for today and ``days_ahead`` days, drop those whose day ended before
    ``cutoff``, and delete DEFAULT's rows older than ``cutoff`` in batches of ``batch``.
    The caller has rolled the dropped hours up."""
    report = Rotation()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
        if not cursor.fetchone()[0]:
            report.skipped = True
            return report
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        existing = partitions()
        today = day_floor(now)
        for offset in range(days_ahead + 1):
            day = today + offset * DAY
            if partition_name(day) not in existing:
                _create(cursor, day)
                report.created.append(partition_name(day))
        for name, day in sorted(existing.items(), key=lambda item: item[1]):
            if day + DAY <= cutoff:
                cursor.execute(f"SELECT count(*) FROM {name}")  # noqa: S608 - our name
                report.rows_dropped += cursor.fetchone()[0]
                cursor.execute(f"DROP TABLE {name}")
                report.dropped.append(name)
    report.rows_deleted = _delete_default_before(cutoff, batch)
    if report.created or report.dropped:
        logger.info(
            "attempt partitions: created %s, dropped %s (%d rows)",
            report.created,
            report.dropped,
            report.rows_dropped,
        )
    return report


def _create(cursor, day: datetime) -> None:
    """A day's partition, built apart and attached (a lighter lock on the parent than
    CREATE ... PARTITION OF), with the rows of that day DEFAULT may hold moved into it."""
    name, end = partition_name(day), day + DAY
    cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    # Lets ATTACH skip checking the new table's rows against the range.
    cursor.execute(
        f"ALTER TABLE {name} ADD CONSTRAINT {name}_range "
        "CHECK (started_at IS NOT NULL AND started_at >= %s AND started_at < %s)",
        [day, end],
    )
    # ATTACH takes this lock anyway; taken before the move, no insert of that day can reach
    # DEFAULT between the move and the ATTACH (whose check of DEFAULT would then fail).
    cursor.execute(f"LOCK TABLE {DEFAULT} IN ACCESS EXCLUSIVE MODE")
    cursor.execute(
        f"WITH moved AS (DELETE FROM {DEFAULT} WHERE started_at >= %s AND started_at < %s "  # noqa: S608
        f"RETURNING *) INSERT INTO {name} SELECT * FROM moved",
        [day, end],
    )
    cursor.execute(
        f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [day, end]
    )
    cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_range")


def _delete_default_before(cutoff: datetime, batch: int) -> int:
    """Rows past retention that landed in DEFAULT (days without a partition), in batches."""
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {DEFAULT} WHERE ctid IN (SELECT ctid FROM {DEFAULT} "  # noqa: S608
                "WHERE started_at < %s LIMIT %s)",
                [cutoff, batch],
            )
            count = cursor.rowcount
        deleted += count
        if count < batch:
            return deleted
