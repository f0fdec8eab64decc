"""ExportVersion and the PostgreSQL triggers that raise it (calendars.models.ExportVersion).

Events: statement-level triggers with transition tables, so a bulk upsert of 10,000 rows
raises each listing's counter once per statement, not per row; an update counts only when
a column the export reads changed (a ``last_seen`` touch does not). Feeds: row-level, only
when ``listing``, ``source`` or ``export_back`` change, or a feed comes or goes. Other
databases get no triggers; the export then checks its inputs on every request."""

import django.db.models.deletion
from django.db import migrations, models

# Each event trigger raises the counter of the listings whose feeds the statement touched
# (in listing order, so two statements over several listings cannot deadlock); an update
# counts only when one of the columns calendars.services.export reads changed.
FORWARD = """
CREATE FUNCTION calendars_export_bump_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO calendars_exportversion (listing_id, version)
  SELECT DISTINCT f.listing_id, 1 FROM calendars_feed f WHERE f.id IN (SELECT feed_id FROM new_rows)
  ORDER BY f.listing_id
  ON CONFLICT (listing_id) DO UPDATE SET version = calendars_exportversion.version + 1;
  RETURN NULL;
END $$;
CREATE FUNCTION calendars_export_bump_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO calendars_exportversion (listing_id, version)
  SELECT DISTINCT f.listing_id, 1 FROM calendars_feed f WHERE f.id IN (SELECT feed_id FROM old_rows)
  ORDER BY f.listing_id
  ON CONFLICT (listing_id) DO UPDATE SET version = calendars_exportversion.version + 1;
  RETURN NULL;
END $$;
CREATE FUNCTION calendars_export_bump_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO calendars_exportversion (listing_id, version)
  SELECT DISTINCT f.listing_id, 1 FROM calendars_feed f WHERE f.id IN (
    SELECT n.feed_id FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE ROW(n.feed_id, n.uid, n.start, n."end", n.all_day, n.kind,
              n.kind_override, n.changed_at, n.blocking, n.status, n.echo_of_id)
      IS DISTINCT FROM ROW(o.feed_id, o.uid, o.start, o."end", o.all_day, o.kind,
              o.kind_override, o.changed_at, o.blocking, o.status, o.echo_of_id)
    UNION SELECT o.feed_id FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.feed_id <> o.feed_id
  )
  ORDER BY f.listing_id
  ON CONFLICT (listing_id) DO UPDATE SET version = calendars_exportversion.version + 1;
  RETURN NULL;
END $$;
CREATE TRIGGER calendars_event_export_ins AFTER INSERT ON calendars_event
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION calendars_export_bump_inserted();
CREATE TRIGGER calendars_event_export_del AFTER DELETE ON calendars_event
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION calendars_export_bump_deleted();
CREATE TRIGGER calendars_event_export_upd AFTER UPDATE ON calendars_event
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION calendars_export_bump_updated();

CREATE FUNCTION calendars_export_bump_feed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO calendars_exportversion (listing_id, version)
  SELECT DISTINCT x.listing_id, 1 FROM (
    SELECT CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.listing_id END AS listing_id
    UNION SELECT CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.listing_id END
  ) x WHERE x.listing_id IS NOT NULL ORDER BY x.listing_id
  ON CONFLICT (listing_id) DO UPDATE SET version = calendars_exportversion.version + 1;
  RETURN NULL;
END $$;
CREATE TRIGGER calendars_feed_export_insdel AFTER INSERT OR DELETE ON calendars_feed
  FOR EACH ROW EXECUTE FUNCTION calendars_export_bump_feed();
CREATE TRIGGER calendars_feed_export_upd AFTER UPDATE ON calendars_feed
  FOR EACH ROW WHEN (
    OLD.listing_id IS DISTINCT FROM NEW.listing_id
    OR OLD.source IS DISTINCT FROM NEW.source
    OR OLD.export_back IS DISTINCT FROM NEW.export_back
  ) EXECUTE FUNCTION calendars_export_bump_feed();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS calendars_feed_export_upd ON calendars_feed;
DROP TRIGGER IF EXISTS calendars_feed_export_insdel ON calendars_feed;
DROP TRIGGER IF EXISTS calendars_event_export_upd ON calendars_event;
DROP TRIGGER IF EXISTS calendars_event_export_del ON calendars_event;
DROP TRIGGER IF EXISTS calendars_event_export_ins ON calendars_event;
DROP FUNCTION IF EXISTS calendars_export_bump_feed();
DROP FUNCTION IF EXISTS calendars_export_bump_updated();
DROP FUNCTION IF EXISTS calendars_export_bump_deleted();
DROP FUNCTION IF EXISTS calendars_export_bump_inserted();
"""


def _run(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("calendars", "0005_feed_tiers_every_minute"),
    ]

    operations = [
        migrations.CreateModel(
            name="ExportVersion",
            fields=[
                (
                    "listing",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="export_version",
                        serialize=False,
                        to="calendars.listing",
                    ),
                ),
                ("version", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(_run(FORWARD), _run(BACKWARD)),
    ]
