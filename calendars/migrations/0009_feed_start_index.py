"""A feed's events by start time, (feed, start), in place of the feed's own index: every
other index of the table that names the feed leads with it, and adaptive polling asks after
every sync whether a listing has a check-in within 48 hours (a range of start times on each
of its feeds)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("calendars", "0008_feed_5m_dispatch_half_minute"),
    ]

    operations = [
        migrations.AddIndex(
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
