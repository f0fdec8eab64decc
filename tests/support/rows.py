"""Which rows a statement rewrote, read from PostgreSQL itself."""

from __future__ import annotations

from django.db import connection


def row_versions(table: str, key: str = "id") -> dict:
    """``key`` -> where the row's current version lies (its ctid), for every row of
    ``table``. Any UPDATE writes a new version elsewhere, even within the test's own
    transaction (where xmin need not change)."""
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {qn(key)}, ctid::text FROM {qn(table)}")  # noqa: S608 - test names
        return dict(cursor.fetchall())
