# Attempts in daily partitions on PostgreSQL (issue 14, "data that ages well").
#
# Django keeps ``id`` as the model's primary key; in the database the partitioned table's key
# is (id, started_at), because PostgreSQL wants the partition key in every unique index.
# Nothing references SyncAttempt by foreign key (a FK to a partitioned table would need the
# whole key). The table is copied once under an exclusive lock (its time was not measured:
# prune to the retention first, and plan the deploy for it). SQLite and others: nothing.
#
# Self-contained on purpose (no import of the live code): syncing.monitoring.partitions keeps
# partitions ahead afterwards and drops the old ones.

from datetime import UTC, datetime, timedelta

from django.db import migrations

TABLE = "syncing_syncattempt"
OLD = "syncing_syncattempt_unpartitioned"
DAYS_BACK = 8
DAYS_AHEAD = 3


def _index_defs(cursor, table):
    cursor.execute(
        "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname <> %s",
        [table, f"{TABLE}_pkey"],
    )
    return [row[0] for row in cursor.fetchall()]


def _copy_into(cursor, partitioned: bool):
    """Rename the table, make the new one (partitioned or not), copy, drop the old one and
    create the same indexes again (on the parent they cascade to every partition)."""
    cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
    indexes = _index_defs(cursor, TABLE)
    cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {OLD}")
    suffix = " PARTITION BY RANGE (started_at)" if partitioned else ""
    cursor.execute(
        f"CREATE TABLE {TABLE} (LIKE {OLD} INCLUDING DEFAULTS INCLUDING IDENTITY "
        f"INCLUDING CONSTRAINTS INCLUDING STORAGE){suffix}"
    )
    if partitioned:
        cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        for offset in range(-DAYS_BACK, DAYS_AHEAD + 1):
            day = today + timedelta(days=offset)
            cursor.execute(
                f"CREATE TABLE {TABLE}_p{day:%Y%m%d} PARTITION OF {TABLE} "
                "FOR VALUES FROM (%s) TO (%s)",
                [day, day + timedelta(days=1)],
            )
    cursor.execute(f"INSERT INTO {TABLE} SELECT * FROM {OLD}")
    cursor.execute(
        "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
        f"COALESCE((SELECT MAX(id) FROM {OLD}), 0) + 1, false)",
        [TABLE],
    )
    cursor.execute(f"DROP TABLE {OLD}")
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
    sequence = cursor.fetchone()[0]
    if sequence and sequence.split(".")[-1] != f"{TABLE}_id_seq":
        cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {TABLE}_id_seq")
    key = "(id, started_at)" if partitioned else "(id)"
    cursor.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_pkey PRIMARY KEY {key}")
    for indexdef in indexes:
        for on in (f" ON ONLY public.{TABLE} ", f" ON public.{TABLE} "):
            indexdef = indexdef.replace(on, f" ON {TABLE} ")
        cursor.execute(indexdef)


def _is_partitioned(cursor) -> bool:
    cursor.execute(
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
        [TABLE],
    )
    return cursor.fetchone() is not None


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if not _is_partitioned(cursor):
            _copy_into(cursor, partitioned=True)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        if _is_partitioned(cursor):
            _copy_into(cursor, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [
        ("syncing", "0008_adaptive_polling"),
    ]

    operations = [migrations.RunPython(partition, unpartition, elidable=False)]
