"""Writing many events of one feed in one statement (calendars.services.events_upsert)."""

from __future__ import annotations

from types import SimpleNamespace

from django.db import connection

from calendars.models import Event

# Rows per statement: the arrays of 5,000 rows and the statement psycopg builds from them
# held ~5 MB at once at a big feed's import peak; statements of 1,000 hold a fifth of it.
BATCH_ROWS = 1000


def bulk_upsert(rows: list[SimpleNamespace], update_fields: list[str]) -> list[SimpleNamespace]:
    """Insert ``rows`` (one attribute per Event column, by ``attname``: ``new_row``), or
    update ``update_fields`` of the rows already there on (feed, uid); each row gets its
    ``pk``. On PostgreSQL one ``INSERT ... SELECT FROM unnest(<one array per column>) ON
    CONFLICT`` per BATCH_ROWS rows (the ORM's bulk_create prepares and sends every cell as
    its own parameter: most of a new feed's write cost), its arrays bound on the server in
    binary (``_binary_cursor``); elsewhere the ORM's bulk_create. Plain rows, not Event
    instances: a model instance cost ~20x more to build than the row it is written from."""
    if connection.vendor != "postgresql":
        events = [Event(**vars(row)) for row in rows]
        Event.objects.bulk_create(
            events,
            update_conflicts=True,
            unique_fields=["feed", "uid"],
            update_fields=update_fields,
        )
        for row, event in zip(rows, events, strict=True):
            row.pk = event.pk
        return rows
    fields = [f for f in Event._meta.concrete_fields if not f.primary_key]
    qn = connection.ops.quote_name
    columns = ", ".join(qn(f.column) for f in fields)
    arrays = ", ".join(f"%b::{f.db_type(connection)}[]" for f in fields)
    updates = ", ".join(
        f"{qn(column)} = EXCLUDED.{qn(column)}"
        for column in (Event._meta.get_field(name).column for name in update_fields)
    )
    sql = f"""
        INSERT INTO {qn(Event._meta.db_table)} ({columns})
        SELECT * FROM unnest({arrays})
        ON CONFLICT ({qn("feed_id")}, {qn("uid")}) DO UPDATE SET {updates}
        RETURNING {qn("id")}, {qn("uid")}
    """  # noqa: S608 - identifiers from model metadata, values are parameters
    with _binary_cursor() as cursor:
        for first in range(0, len(rows), BATCH_ROWS):
            batch = rows[first : first + BATCH_ROWS]
            params = [[_cell(getattr(row, f.attname)) for row in batch] for f in fields]
            cursor.execute(sql, params)
            del params
            pks = {uid: pk for pk, uid in cursor.fetchall()}
            for row in batch:
                row.pk = pks.get(row.uid)
    return rows


def new_row(**values) -> SimpleNamespace:
    """A row for ``bulk_upsert``: ``values`` by Event attname, the other columns at their
    model defaults (kind_override '', echo_of None); ``pk`` None until written."""
    return SimpleNamespace(pk=None, kind_override="", echo_of_id=None, **values)


def _binary_cursor():
    """A cursor of Django's connection that binds parameters on the server, in binary.

    Django's own cursors bind on the client: psycopg writes each array as SQL text, every
    string escaped by a regular expression, then quoted once more into the statement (5-6
    ms of CPU for a new feed's 100 events; the binary arrays take a third of it). The
    cursor goes through Django's wrapper (``_prepare_cursor``), so errors, thread checks
    and query logging are Django's as for any cursor. No prepared statement is made
    (Django sets ``prepare_threshold`` to None), so PgBouncer in transaction mode takes
    it like any other statement."""
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    return connection._prepare_cursor(ServerBindingCursor(connection.connection))


def _cell(value):
    """A value as the database takes it (choices' enum members as their plain strings)."""
    return str(value) if isinstance(value, str) else value
