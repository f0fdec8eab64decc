"""Migration operations that keep a busy table writable while they run (PostgreSQL)."""

from __future__ import annotations

from django.db import migrations


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
