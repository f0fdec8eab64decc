"""Migration operations that keep a busy table writable while they run (PostgreSQL)."""

from __future__ import annotations

from django.db import migrations
from django.db.migrations.operations.base import Operation


class AddIndexConcurrentlyOnPostgres(migrations.AddIndex):
    """AddIndex, built with CREATE INDEX CONCURRENTLY on PostgreSQL (outside a transaction:
    the migration must say ``atomic = False``); as AddIndex elsewhere (SQLite). Writes go on
    while the index is built; a plain CREATE INDEX holds them for as long as it reads the
    table. Should the build fail, an INVALID index of that name is left behind: drop it and
    migrate again."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, concurrently=True)
        return None


class RemoveIndexConcurrentlyOnPostgres(migrations.RemoveIndex):
    """RemoveIndex, dropped with DROP INDEX CONCURRENTLY on PostgreSQL (outside a
    transaction: ``atomic = False``), so the drop does not queue behind a long import
    holding the table and every write behind itself; as RemoveIndex elsewhere (SQLite)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = from_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            schema_editor.remove_index(model, index, concurrently=True)
        return None

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = to_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            schema_editor.add_index(model, index, concurrently=True)
        return None


class SetFillfactorOnPostgres(Operation):
    """``ALTER TABLE ... SET (fillfactor = N)`` on PostgreSQL; nothing elsewhere (SQLite
    has no such setting). Inserts and the rewrites of VACUUM FULL or CLUSTER then leave
    ``100 - N`` percent of each page free, where an update can put the row's new version:
    an update that changes no indexed column is then HOT (no new index entries, and the
    page's dead versions pruned in place) instead of moving the row to another page. The
    statement takes a SHARE UPDATE EXCLUSIVE lock and rewrites nothing: reads and writes go
    on, pages already full fill up as vacuum frees them."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name: str, fillfactor: int):
        self.model_name = model_name
        self.fillfactor = fillfactor

    def deconstruct(self):
        return (
            self.__class__.__qualname__,
            [],
            {"model_name": self.model_name, "fillfactor": self.fillfactor},
        )

    def state_forwards(self, app_label, state):
        pass

    def _alter(self, app_label, schema_editor, state, setting: str) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        model = state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            table = schema_editor.quote_name(model._meta.db_table)
            schema_editor.execute(f"ALTER TABLE {table} {setting}")

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._alter(
            app_label, schema_editor, to_state, f"SET (fillfactor = {int(self.fillfactor)})"
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._alter(app_label, schema_editor, to_state, "RESET (fillfactor)")

    def describe(self):
        return f"Set fillfactor {self.fillfactor} on {self.model_name} (PostgreSQL)"

    @property
    def migration_name_fragment(self):
        return f"{self.model_name.lower()}_fillfactor"
