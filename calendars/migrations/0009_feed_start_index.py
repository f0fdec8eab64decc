"""A feed's events by start time, (feed, start), in place of the feed's own index: every
other index of the table that names the feed leads with it, and adaptive polling asks after
every sync whether a listing has a check-in within 48 hours (a range of start times on each
of its feeds).

On PostgreSQL the index is built CONCURRENTLY: imports keep writing events while it is built
(a plain CREATE INDEX holds their writes for as long as it reads the table, seconds to
minutes at millions of events). So the migration is not atomic; should the build fail, an
INVALID index named calendars_event_feed_start is left behind: drop it and migrate again."""

import django.db.models.deletion
from django.db import migrations, models

from syncing.migration_ops import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("calendars", "0008_feed_5m_dispatch_half_minute"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="event",
            index=models.Index(fields=["feed", "start"], name="calendars_event_feed_start"),
        ),
        migrations.AlterField(
            model_name="event",
            name="feed",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="calendars.feed",
            ),
        ),
    ]
