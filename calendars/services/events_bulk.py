"""Writing many events of one feed in one statement (calendars.services.events_upsert)."""

from __future__ import annotations

from django.db import connection

from calendars.models import Event

# Rows per statement: the arrays of 5,000 rows and the statement psycopg builds from them
# held ~5 MB at once at a big feed's import peak; statements of 1,000 hold a fifth of it.
BATCH_ROWS = 1000


def bulk_upsert(to_write: list[Event], update_fields: list[str]) -> list[Event]:
    """Insert ``to_write``, or update ``update_fields`` of the rows already there on (feed,
    uid); the events get their primary keys. On PostgreSQL
    one ``INSERT ... SELECT FROM unnest(<one array per column>) ON CONFLICT`` per
    BATCH_ROWS rows (the ORM's
    bulk_create prepares and sends every cell as its own parameter: most of a new feed's
    write cost), its arrays bound on the server in binary (``_binary_cursor``); elsewhere
    the ORM's bulk_create."""
    if connection.vendor != "postgresql":
        return Event.objects.bulk_create(
            to_write,
            update_conflicts=True,
            unique_fields=["feed", "uid"],
            update_fields=update_fields,
        )
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
        for first in range(0, len(to_write), BATCH_ROWS):
            batch = to_write[first : first + BATCH_ROWS]
            params = [[_cell(getattr(event, f.attname)) for event in batch] for f in fields]
            cursor.execute(sql, params)
            del params
            pks = {uid: pk for pk, uid in cursor.fetchall()}
            for event in batch:
                event.pk = pks.get(event.uid)
                event._state.adding = False
    return to_write


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
