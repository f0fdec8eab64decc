"""Writing the end of many items' runs at once, each conditional on its lease token."""

from __future__ import annotations

import json
import math
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
    ``UPDATE ... FROM jsonb_to_recordset(...)``, which also releases the advisory lock
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
    # Every written item gets its attempt, so the inserted rows name the written items: no
    # join of the two CTEs back together (estimated at a row each, it was a nested loop of
    # chunk x chunk comparisons, 9,900 for a chunk of 100).
    sql = f"""
        WITH written AS ({update_sql}),
        inserted AS ({insert_sql} JOIN written ON written.id = a.item_id RETURNING id, item_id)
        SELECT item_id, id FROM inserted
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


def _json_rows(rows: list[list], columns: tuple[tuple[str, str], ...]) -> str:
    """The rows as one JSON array of objects for ``jsonb_to_recordset``; a None is left out
    (NULL), every other value as its column's type reads it back."""
    names = [(name, _TO_JSON.get(sqltype)) for name, sqltype in columns]
    objects = []
    for row in rows:
        obj = {}
        for (name, convert), value in zip(names, row, strict=True):
            if value is not None:
                obj[name] = value if convert is None else convert(value)
        objects.append(obj)
    return json.dumps(objects)


def _float(value) -> float | str:
    number = float(value)
    if math.isfinite(number):
        return number
    return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")


# Python values as the record's column types read them from JSON: timestamps in ISO 8601
# (a naive one is read in the session's time zone, as before), intervals as PostgreSQL's
# "1 day 02:03:04.5" (str(timedelta) without its comma), a float that JSON cannot hold as
# the text PostgreSQL reads; jsonb columns take the value itself.
_TO_JSON = {
    "varchar": str,
    "integer": int,
    "bigint": int,
    "boolean": bool,
    "double precision": _float,
    "timestamptz": lambda value: value.isoformat(),
    "interval": lambda value: str(value).replace(",", ""),
}


def _recordset(columns: tuple[tuple[str, str], ...], alias: str) -> str:
    """``jsonb_to_recordset(%s::jsonb) AS v(c1 t1, c2 t2, ...)``: all rows in one JSON
    parameter, so the statement's text is the same whatever the number of rows (psycopg
    caches its parsing) and the worker makes one JSON string instead of dumping an array per
    column value by value (an ``unnest`` of typed arrays cost ~4x more of its CPU)."""
    fields = ", ".join(f"{name} {sqltype}" for name, sqltype in columns)
    return f"jsonb_to_recordset(%s::jsonb) AS {alias}({fields})"


def _attempts_sql(finishes: list[Finish]) -> tuple[str, list]:
    """``INSERT INTO <attempts> (...) SELECT a.* FROM jsonb_to_recordset(...)`` (the caller
    adds the join that keeps the written items only), and its parameters."""
    from syncing.models import SyncAttempt

    qn = connection.ops.quote_name
    rows = [[getattr(f.attempt, name) for name, _ in ATTEMPT_COLUMNS] for f in finishes]
    names = ", ".join(name for name, _ in ATTEMPT_COLUMNS)
    sql = f"""
        INSERT INTO {qn(SyncAttempt._meta.db_table)} ({names})
        SELECT a.* FROM {_recordset(ATTEMPT_COLUMNS, "a")}
    """  # noqa: S608 - identifiers from model metadata, values are parameters
    return sql, [_json_rows(rows, ATTEMPT_COLUMNS)]


def _write_postgres(
    kind: Kind, token: uuid.UUID, finishes: list[Finish], unlock_class: int | None
) -> set[int]:
    sql, params = _update_sql(kind, token, finishes, unlock_class)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


UPDATE_COLUMNS = (("id", "bigint"), *COLUMNS)


def _update_sql(
    kind: Kind, token: uuid.UUID, finishes: list[Finish], unlock_class: int | None
) -> tuple[str, list]:
    """The conditional ``UPDATE ... FROM jsonb_to_recordset(...) RETURNING id`` of the
    finishes (a column whose value is None keeps what it holds: COALESCE)."""
    meta = kind.model_class._meta
    qn = connection.ops.quote_name
    table, pk = qn(meta.db_table), qn(meta.pk.column)
    rows = [[f.pk] + [f.fields.get(name) for name, _ in COLUMNS] for f in finishes]
    sets = ", ".join(f"{qn(name)} = COALESCE(v.{name}, t.{qn(name)})" for name, _ in COLUMNS)
    unlock = ""
    if unlock_class is not None:
        unlock = f", pg_advisory_unlock(%s, (t.{pk} %% 2147483648)::int4)"
    sql = f"""
        UPDATE {table} AS t
        SET {sets}, leased_until = NULL, lease_token = NULL
        FROM {_recordset(UPDATE_COLUMNS, "v")}
        WHERE t.{pk} = v.id AND t.lease_token = %s
        RETURNING t.{pk} AS id{unlock}
    """  # noqa: S608 - identifiers from model metadata, values are parameters
    params = [_json_rows(rows, UPDATE_COLUMNS), token]
    if unlock_class is not None:
        params.append(unlock_class)
    return sql, params
