"""Event.in_feed: whether the feed's latest import held the event, written only when it
changes (a changed import no longer rewrites every unchanged row to bump ``last_seen``).

Existing rows: an event whose ``last_seen`` is older than its feed's latest import
(``Feed.last_import["at"]``) was not bumped by it, so that import did not hold it. On
PostgreSQL one UPDATE; the column is added with a database default (no table rewrite).
"""

from datetime import datetime

from django.db import migrations, models

_LEFT_SQL = """
UPDATE calendars_event AS e SET in_feed = false
FROM calendars_feed AS f
WHERE e.feed_id = f.id
  AND (f.last_import ->> 'at') ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}'
  AND e.last_seen < (f.last_import ->> 'at')::timestamptz
"""


def mark_left(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_LEFT_SQL)
        return
    Feed = apps.get_model("calendars", "Feed")
    Event = apps.get_model("calendars", "Event")
    for pk, last_import in Feed.objects.exclude(last_import=None).values_list("pk", "last_import"):
        try:
            at = datetime.fromisoformat(last_import["at"])
        except (KeyError, TypeError, ValueError):
            continue
        Event.objects.filter(feed_id=pk, last_seen__lt=at).update(in_feed=False)


class Migration(migrations.Migration):
    dependencies = [
        ("calendars", "0009_feed_start_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="event",
            name="in_feed",
            field=models.BooleanField(db_default=True, default=True, editable=False),
        ),
        migrations.RunPython(mark_left, migrations.RunPython.noop, elidable=True),
    ]
