"""The events' echo index holds the echoes only (``echo_of IS NOT NULL``), in place of the
foreign key's index over every row: nearly every event is no echo, so each insert wrote an
entry for nothing, and with stale statistics (a table that just grew) PostgreSQL read the
whole index of NULLs for ``echo_of IS NULL`` (32,735 entries to find a feed's 56 events on
bench/bare_compare.py's farm). The foreign key's lookups (``echo_of = x`` when an event is
deleted, ``echo_of IN (...)`` when one is archived) use the partial index.

On PostgreSQL the new index is built CONCURRENTLY (calendars 0009 says why), before the
old one is dropped; the migration is not atomic."""

import django.db.models.deletion
from django.db import migrations, models

from syncing.migration_ops import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("calendars", "0010_event_in_feed"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="event",
            index=models.Index(
                condition=models.Q(("echo_of__isnull", False)),
                fields=["echo_of"],
                name="calendars_event_echo",
            ),
        ),
        migrations.AlterField(
            model_name="event",
            name="echo_of",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="echoes",
                to="calendars.event",
            ),
        ),
    ]
