"""Claiming due items: one statement that selects and leases them.

PostgreSQL: ``FOR UPDATE SKIP LOCKED`` inside an ``UPDATE ... FROM (SELECT ...)``, so two
dispatchers running at once each get different rows and neither waits for the other.
SQLite: a conditional ``UPDATE ... WHERE id IN (SELECT ...)``; SQLite runs one writer at a
time, so the statement is atomic there too. Either way the partial index on
``(tier, next_sync_at) WHERE NOT paused`` makes the cost O(batch), whatever the table size.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from syncing.kinds import Kind


@dataclass(frozen=True)
class Claim:
    kind: str
    token: uuid.UUID
    pks: list[int]
    leased_until: datetime
    # The claimed items expected to be cheap to sync (the last sync succeeded and the item
    # holds a validator for a conditional request): Kind.cheap_chunk_size.
    cheap: frozenset[int] = frozenset()


# An item expected to be cheap to sync (Kind.cheap_chunk_size): its last sync succeeded
# and it holds a validator, so the next sync is most likely a conditional request and a 304.
CHEAP = (
    "({t}consecutive_failures = 0 AND {t}last_success_at IS NOT NULL"
    " AND ({t}etag <> '' OR {t}last_modified <> ''))"
)


def lease_seconds(kind: Kind) -> int:
    return kind.lease_seconds or settings.SYNC_LEASE_SECONDS


def claim_due_items(kind: Kind, tier: str, limit: int, *, now: datetime | None = None) -> Claim:
    """Lease up to ``limit`` due items of ``kind`` in ``tier``, oldest due first.

    Due means ``next_sync_at <= now``, not paused, and no live lease. Returns the claim
    (its token and the claimed primary keys); the caller publishes them.
    """
    now = now or timezone.now()
    token = uuid.uuid4()
    leased_until = now + timedelta(seconds=lease_seconds(kind))
    model = kind.model_class
    meta = model._meta
    table = connection.ops.quote_name(meta.db_table)
    pk = connection.ops.quote_name(meta.pk.column)
    token_db = meta.get_field("lease_token").get_db_prep_value(token, connection)
    ts = meta.get_field("next_sync_at")
    now_db = ts.get_db_prep_value(now, connection)
    until_db = ts.get_db_prep_value(leased_until, connection)
    order = connection.ops.quote_name(kind.claim_order)
    if connection.vendor == "postgresql":
        sql = f"""
            UPDATE {table} AS t SET leased_until = %s, lease_token = %s
            FROM (
                SELECT {pk} FROM {table}
                WHERE tier = %s AND next_sync_at <= %s AND NOT paused
                  AND (leased_until IS NULL OR leased_until < %s)
                ORDER BY {order} NULLS LAST, next_sync_at
                LIMIT %s
                FOR UPDATE SKIP LOCKED
            ) AS due
            WHERE t.{pk} = due.{pk}
            RETURNING t.{pk}, t.{order}, t.next_sync_at, {CHEAP.format(t="t.")}
        """  # noqa: S608 - identifiers come from model metadata, values are parameters
    else:
        sql = f"""
            UPDATE {table} SET leased_until = %s, lease_token = %s
            WHERE {pk} IN (
                SELECT {pk} FROM {table}
                WHERE tier = %s AND next_sync_at <= %s AND NOT paused
                  AND (leased_until IS NULL OR leased_until < %s)
                ORDER BY {order} NULLS LAST, next_sync_at
                LIMIT %s
            )
            RETURNING {pk}, {order}, next_sync_at, {CHEAP.format(t="")}
        """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [until_db, token_db, tier, now_db, now_db, limit])
        # RETURNING gives no order; publish in the kind's claim order (oldest due first).
        rows = cursor.fetchall()
        rows.sort(key=lambda row: (row[1] is None, row[1] or row[2], row[2], row[0]))
        pks = [row[0] for row in rows]
        cheap = frozenset(row[0] for row in rows if row[3])
    return Claim(kind=kind.name, token=token, pks=pks, leased_until=leased_until, cheap=cheap)


def claim_one(kind: Kind, pk: int, *, now: datetime | None = None, force: bool = False) -> Claim:
    """Lease one item for an on-demand sync; empty when it is leased (already syncing).

    ``force`` also takes a paused item (staff "sync now" on a paused item).
    """
    now = now or timezone.now()
    token = uuid.uuid4()
    leased_until = now + timedelta(seconds=lease_seconds(kind))
    qs = kind.model_class.objects.filter(pk=pk).filter(
        Q(leased_until__isnull=True) | Q(leased_until__lt=now)
    )
    if not force:
        qs = qs.filter(paused=False)
    updated = qs.update(leased_until=leased_until, lease_token=token)
    return Claim(
        kind=kind.name, token=token, pks=[pk] if updated else [], leased_until=leased_until
    )


def release(kind: Kind, token: uuid.UUID, pks: list[int]) -> int:
    """Free the leases of items that were claimed but will not run now (due again at once)."""
    return kind.model_class.objects.filter(pk__in=pks, lease_token=token).update(
        leased_until=None, lease_token=None
    )
