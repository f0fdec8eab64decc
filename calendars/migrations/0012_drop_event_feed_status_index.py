"""The events lose their (feed, status) index. Every query of an import filters the feed's
rows with ``status <> 'cancelled'`` (no range on the status), so it used the index for its
feed prefix only, which (feed, uid) and (feed, start) also lead with; its one other user is
the API's ``?feed=&status=`` filter, served by (feed, start) and a filter over one feed's
rows. Writing it cost ~28% of a bulk insert of events (123,256 rows: 1.21 s with it, 0.85-0.89
s without, on this machine's PostgreSQL 15). Dropped CONCURRENTLY on PostgreSQL (the drop does
not queue behind a long import, and the writes behind it); the migration is not atomic."""

from django.db import migrations

from syncing.migration_ops import RemoveIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("calendars", "0011_event_echo_partial_index"),
    ]

    operations = [
        RemoveIndexConcurrentlyOnPostgres(model_name="event", name="calendars_event_feed_status"),
    ]
