"""Writing the end of many items' runs at once, each conditional on its lease token."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

from django.db import connection

if TYPE_CHECKING:
    from syncing.kinds import Kind
    from syncing.services.runs import Finish

# Columns a finish may set; a missing value keeps the column as it is.
COLUMNS = (
    ("last_synced_at", "timestamptz"),
    ("last_success_at", "timestamptz"),
    ("next_sync_at", "timestamptz"),
    ("consecutive_failures", "integer"),
    ("last_error", "varchar"),
    ("paused", "boolean"),
    ("pause_reason", "varchar"),
    ("etag", "varchar"),
    ("last_modified", "varchar"),
    ("content_hash", "varchar"),
    ("change_stats", "jsonb"),
    ("change_rate", "double precision"),
    ("effective_interval", "interval"),
)


def write_finishes(
    kind: Kind, token: uuid.UUID, finishes: list[Finish], *, unlock_class: int | None = None
) -> set[int]:
    """Apply the finishes whose item still holds ``token``; return the pks written.

    The lease is freed in the same write. On PostgreSQL all rows go in one
    ``UPDATE ... FROM (VALUES ...)``, which also releases the advisory lock
    ``(unlock_class, pk)`` of each row written when ``unlock_class`` is given (a waiting
    duplicate then finds the token gone); elsewhere one UPDATE per row in the caller's
    transaction.
    """
    if connection.vendor == "postgresql":
        return _write_postgres(kind, token, finishes, unlock_class)
    model = kind.model_class
    written = set()
    for f in finishes:
        if model.objects.filter(pk=f.pk, lease_token=token).update(
            leased_until=None, lease_token=None, **f.fields
        ):
            written.add(f.pk)
    return written


def write_finishes_and_attempts(
    kind: Kind, token: uuid.UUID, finishes: list[Finish], *, unlock_class: int | None = None
) -> set[int]:
    """``write_finishes``, and the ``SyncAttempt`` of each finish written saved with it: on
    PostgreSQL in one statement (no transaction of its own needed: a statement is atomic),
    the attempts' primary keys set on them; elsewhere both in the caller's transaction.
    Nothing is recorded for an item whose token moved on."""
    if connection.vendor != "postgresql":
        from syncing.models import SyncAttempt

        written = write_finishes(kind, token, finishes, unlock_class=unlock_class)
        SyncAttempt.objects.bulk_create([f.attempt for f in finishes if f.pk in written])
        return written
    update_sql, params = _update_sql(kind, token, finishes, unlock_class)
    insert_sql, insert_params = _attempts_sql(finishes)
    sql = f"""
        WITH written AS ({update_sql}),
        inserted AS ({insert_sql} JOIN written ON written.id = a.item_id RETURNING id, item_id)
        SELECT written.id, inserted.id FROM written
        LEFT JOIN inserted ON inserted.item_id = written.id
    """  # noqa: S608 - identifiers from model metadata, values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params + insert_params)
        attempt_pks = dict(cursor.fetchall())
    for f in finishes:
        if f.pk in attempt_pks:
            f.attempt.pk = attempt_pks[f.pk]
            f.attempt._state.adding = False
    return set(attempt_pks)


# The attempt's columns the engine writes, with their SQL types.
ATTEMPT_COLUMNS = (
    ("kind", "varchar"),
    ("item_id", "bigint"),
    ("tier", "varchar"),
    ("owner_id", "bigint"),
    ("started_at", "timestamptz"),
    ("duration_ms", "integer"),
    ("outcome", "varchar"),
    ("reason", "varchar"),
    ("message", "varchar"),
    ("http_status", "integer"),
    ("bytes", "integer"),
    ("items_changed", "integer"),
    ("retries", "integer"),
    ("counts", "jsonb"),
)


def _arrays(rows: list[list], columns: tuple[tuple[str, str], ...]) -> list[list]:
    """One list per column (for ``unnest``), each value of the column's SQL type."""
    arrays = []
    for index, (_name, sqltype) in enumerate(columns):
        convert = _CONVERT.get(sqltype)
        values = [row[index] for row in rows]
        arrays.append([v if v is None or convert is None else convert(v) for v in values])
    return arrays


# Python values as one type per column: an array's values must share one type (jsonb
# values come as their JSON text).
_CONVERT = {
    "varchar": str,
    "integer": int,
    "bigint": int,
    "boolean": bool,
    "double precision": float,
}


def _unnest(columns: tuple[tuple[str, str], ...], alias: str) -> str:
    """``unnest(%s::t1[], %s::t2[], ...) AS v(c1, c2, ...)``: one parameter per column, so
    the statement's text is the same whatever the number of rows (psycopg caches its
    parsing; a VALUES list of %s per cell was parsed anew each time, and was the costliest
    part of a chunk's write)."""
    arrays = ", ".join(f"%s::{sqltype}[]" for _name, sqltype in columns)
    names = ", ".join(name for name, _ in columns)
    return f"unnest({arrays}) AS {alias}({names})"


def _attempts_sql(finishes: list[Finish]) -> tuple[str, list]:
    """``INSERT INTO <attempts> (...) SELECT a.* FROM unnest(...) AS a(...)`` (the caller
    adds the join that keeps the written items only), and its parameters."""
    from syncing.models import SyncAttempt

    qn = connection.ops.quote_name
    rows = [
        [
            json.dumps(getattr(f.attempt, name)) if sqltype == "jsonb" else getattr(f.attempt, name)
            for name, sqltype in ATTEMPT_COLUMNS
        ]
        for f in finishes
    ]
    names = ", ".join(name for name, _ in ATTEMPT_COLUMNS)
    sql = f"""
        INSERT INTO {qn(SyncAttempt._meta.db_table)} ({names})
        SELECT a.* FROM {_unnest(ATTEMPT_COLUMNS, "a")}
    """  # noqa: S608 - identifiers from model metadata, values are parameters
    return sql, _arrays(rows, ATTEMPT_COLUMNS)


def _write_postgres(
    kind: Kind, token: uuid.UUID, finishes: list[Finish], unlock_class: int | None
) -> set[int]:
    sql, params = _update_sql(kind, token, finishes, unlock_class)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


UPDATE_COLUMNS = (("id", "bigint"), *COLUMNS)


def _cell(value, sqltype: str):
    """A finish's value for the update (None keeps the column: COALESCE)."""
    return json.dumps(value) if sqltype == "jsonb" and value is not None else value


def _update_sql(
    kind: Kind, token: uuid.UUID, finishes: list[Finish], unlock_class: int | None
) -> tuple[str, list]:
    """The conditional ``UPDATE ... FROM unnest(...) RETURNING id`` of the finishes."""
    meta = kind.model_class._meta
    qn = connection.ops.quote_name
    table, pk = qn(meta.db_table), qn(meta.pk.column)
    rows = [
        [f.pk] + [_cell(f.fields.get(name), sqltype) for name, sqltype in COLUMNS] for f in finishes
    ]
    sets = ", ".join(f"{qn(name)} = COALESCE(v.{name}, t.{qn(name)})" for name, _ in COLUMNS)
    unlock = ""
    if unlock_class is not None:
        unlock = f", pg_advisory_unlock(%s, (t.{pk} %% 2147483648)::int4)"
    sql = f"""
        UPDATE {table} AS t
        SET {sets}, leased_until = NULL, lease_token = NULL
        FROM {_unnest(UPDATE_COLUMNS, "v")}
        WHERE t.{pk} = v.id AND t.lease_token = %s
        RETURNING t.{pk} AS id{unlock}
    """  # noqa: S608 - identifiers from model metadata, values are parameters
    params = _arrays(rows, UPDATE_COLUMNS)
    params.append(token)
    if unlock_class is not None:
        params.append(unlock_class)
    return sql, params
