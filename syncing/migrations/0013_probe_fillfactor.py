"""The probe table keeps a fifth of each page free (fillfactor 80, PostgreSQL only). An item's
row gets a new version at every claim and every finish; the claim (its lease) changes no
indexed column, so with room on the page it is a HOT update: no new entries in the table's
indexes, dead versions pruned in place, and the table stays as compact as its live rows
instead of spreading each sync's versions over new pages. Takes effect for pages written
from now on (VACUUM FULL applies it to the whole table at once)."""

from django.db import migrations

from syncing.migration_ops import SetFillfactorOnPostgres


class Migration(migrations.Migration):
    dependencies = [
        ("syncing", "0012_attempt_owner_single_index"),
    ]

    operations = [
        SetFillfactorOnPostgres(model_name="probe", fillfactor=80),
    ]
