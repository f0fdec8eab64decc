"""Holding the leases of one chunk while it runs, so that no item ever runs twice at once.

A claim leases items for ``lease_seconds``; the message that carries them may wait in a
queue, be delivered twice, or run for longer than the lease. ``ChunkLease`` closes those
gaps for the run of one message:

- ``take``: keep only the items that still hold the claim's token, extend their lease from
  now (on a direct PostgreSQL connection, only a lease no longer fresh: one taken within
  seconds of its claim is read, not rewritten), and (PostgreSQL) take a session advisory
  lock per item. A second delivery of the same message while the first still runs finds
  the locks taken and runs nothing; a redelivery after the first runner died (its
  connection, and so its locks, gone) runs.
- ``hold``: called before each item; renews the lease of the chunk's remaining items
  (one conditional UPDATE) once a third of the lease has passed since the last renewal,
  so every item starts with at least two thirds of a lease ahead of it, and says whether
  the item is still ours. An item whose token changed is neither run nor recorded.
- ``heartbeat``: while the chunk runs, a thread extends the leases it still holds when the
  chunk has not renewed them for a third of the lease (one item running long: a slow
  speech synthesis, a fetch near its deadline). It never decides what is held; ``hold``
  does, between items.
- ``done`` / ``close``: free the advisory locks of items whose finish is written.

Behind PgBouncer in transaction mode (``settings.DATABASE_POOLER == "transaction"``) a
session lock would be taken on whichever server session one statement got and then held
there, for another client: no session state is kept instead. ``take`` moves the items from
the claim's token to a token of this run (one conditional UPDATE), and every later renewal
and finish is conditional on that run token. A second delivery of the same message finds
the claim's token gone and runs nothing, whether the first still runs or died; after a
crash the items come back when their lease ends (within ``SYNC_LEASE_SECONDS``) rather
than at once with the redelivery, which is what the session locks buy on a direct
connection, so they stay the default there.

SQLite (the single-process embedded default) has no advisory locks: the token check and
renewal still apply, the duplicate-delivery guard does not.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from syncing.kinds import Kind
from syncing.services.claims import lease_seconds

logger = logging.getLogger("syncing.run")

_INT4 = 2**31
# At take, a lease with less than this share of a renewal period (a third of the lease)
# gone is read, not rewritten (ChunkLease._lock_and_extend): 5 s of a 60-s lease.
FRESH_SLACK = 0.25


def _lock_class(table: str) -> int:
    """A stable int4 per table, the first key of the two-key advisory lock."""
    return zlib.crc32(f"syncing:{table}".encode()) % _INT4


def session_locks_usable() -> bool:
    """Whether a session advisory lock stays with this client from take to done: PostgreSQL
    on a direct connection (or a session-mode pooler), not a transaction-mode pooler."""
    pooled = settings.DATABASE_POOLER == "transaction"
    return connection.vendor == "postgresql" and not pooled


class ChunkLease:
    def __init__(self, kind: Kind, token: uuid.UUID):
        self.kind = kind
        self.token = token
        self.seconds = lease_seconds(kind)
        self.renew_every = self.seconds / 3
        meta = kind.model_class._meta
        self.table = connection.ops.quote_name(meta.db_table)
        self.pk_column = connection.ops.quote_name(meta.pk.column)
        self.lock_class = _lock_class(meta.db_table)
        self.advisory = session_locks_usable()
        # No session state (transaction pooling): the run moves the items to its own token.
        self.moves_token = connection.vendor == "postgresql" and not self.advisory
        self.held: set[int] = set()
        self.locked: set[int] = set()
        self.busy: list[int] = []
        self.renewed_at = 0.0
        self._mutex = threading.Lock()  # ``held`` is read by the heartbeat thread
        self.extended_at = 0.0

    def take(self, pks: list[int]) -> set[int]:
        """Take the items of ``pks`` that still hold the token and are not running elsewhere."""
        candidates = list(pks)
        if self.moves_token and candidates:
            self.held = self._move_to_run_token(candidates)
            return set(self.held)
        if not (self.advisory and candidates):
            self.held = self._extend(candidates)
            return set(self.held)
        self.locked, self.held = self._lock_and_extend(candidates)
        self.busy = [pk for pk in candidates if pk not in self.locked]
        if self.locked - self.held:  # locked, but the token moved on: not ours
            self._unlock(self.locked - self.held)
        self.locked &= self.held
        return set(self.held)

    def hold(self, pk: int) -> bool:
        """Whether ``pk`` is still ours to run; renews the chunk's leases when due."""
        if time.monotonic() - self.renewed_at >= self.renew_every and self.held:
            before = set(self.held)
            still = self._extend(sorted(before))
            with self._mutex:
                self.held = still
            lost = before - still
            if lost:
                logger.warning(
                    "%s: lease lost for %d item(s) of claim %s while the chunk ran: %s",
                    self.kind.name,
                    len(lost),
                    self.token,
                    sorted(lost)[:20],
                )
                self._unlock(lost & self.locked)
                self.locked -= lost
        return pk in self.held

    def done(self, pks: list[int] | set[int], *, unlocked: set[int] = frozenset()) -> None:
        """The finishes of ``pks`` are written (or lost): stop renewing and unlock them
        (``unlocked``: already unlocked by the finishing write)."""
        finished = set(pks)
        with self._mutex:
            self.held = self.held - finished
        self.locked -= unlocked
        self._unlock(finished & self.locked)
        self.locked -= finished

    @property
    def unlock_class(self) -> int | None:
        """For write_finishes: the lock class to release with each row it writes."""
        return self.lock_class if self.advisory else None

    def close(self) -> None:
        """Unlock whatever is still locked (end of the chunk, or on the way out of an error)."""
        if self.locked:
            try:
                self._unlock(self.locked)
            finally:
                self.locked = set()

    @contextmanager
    def heartbeat(self) -> Iterator[None]:
        """Keep the held leases alive from the process's heartbeat thread while the body
        runs (PostgreSQL)."""
        if connection.vendor != "postgresql":
            yield
            return
        _heart.add(self)
        try:
            yield
        finally:
            _heart.discard(self)

    def beat(self, now: float) -> None:
        """Extend (never judge) the held leases when the chunk has been slow to renew them."""
        if now - max(self.renewed_at, self.extended_at) < self.renew_every:
            return
        with self._mutex:
            pks = sorted(self.held)
        self.extended_at = now
        if not pks:
            return
        try:
            self._extend_only(pks)
        except DatabaseError as exc:  # the chunk's own renewal will tell
            logger.warning("%s: lease heartbeat failed: %s", self.kind.name, exc)
        finally:
            # Rare (only items that run long), so no idle connection is kept for it.
            connection.close()

    def _extend_only(self, pks: list[int]) -> None:  # runs on the heartbeat thread
        until = timezone.now() + timedelta(seconds=self.seconds)
        sql = f"""
            UPDATE {self.table} SET leased_until = %s
            WHERE {self.pk_column} = ANY(%s) AND lease_token = %s
        """  # noqa: S608 - identifiers from model metadata, values are parameters
        # Never wait long on a row the chunk itself has locked in a transaction. SET LOCAL
        # ends with this transaction: nothing stays behind in a pooled server session.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '5s'")
            cursor.execute(sql, [until, pks, self.token])

    def _extend(self, pks: list[int]) -> set[int]:
        """Set the lease of ``pks`` that hold the token to now + lease; return those pks."""
        self.renewed_at = time.monotonic()
        if not pks:
            return set()
        until = timezone.now() + timedelta(seconds=self.seconds)
        if connection.vendor == "postgresql":
            sql = f"""
                UPDATE {self.table} SET leased_until = %s
                WHERE {self.pk_column} = ANY(%s) AND lease_token = %s
                RETURNING {self.pk_column}
            """  # noqa: S608 - identifiers from model metadata, values are parameters
            with connection.cursor() as cursor:
                cursor.execute(sql, [until, list(pks), self.token])
                return {row[0] for row in cursor.fetchall()}
        held = self.kind.model_class.objects.filter(pk__in=pks, lease_token=self.token)
        ids = set(held.values_list("pk", flat=True))
        held.update(leased_until=until)
        return ids

    def _move_to_run_token(self, pks: list[int]) -> set[int]:
        """Move the items still holding the claim's token to a new token of this run and
        extend their leases; returns those pks. Of two deliveries of one message, the row
        locks of this UPDATE let exactly one find the claim's token."""
        self.renewed_at = time.monotonic()
        run_token = uuid.uuid4()
        until = timezone.now() + timedelta(seconds=self.seconds)
        sql = f"""
            UPDATE {self.table} SET lease_token = %s, leased_until = %s
            WHERE {self.pk_column} = ANY(%s) AND lease_token = %s
            RETURNING {self.pk_column}
        """  # noqa: S608 - identifiers from model metadata, values are parameters
        with connection.cursor() as cursor:
            cursor.execute(sql, [run_token, until, list(pks), self.token])
            taken = {row[0] for row in cursor.fetchall()}
        self.token = run_token  # renewals, finishes, releases and retries use it from now
        return taken

    def _lock_and_extend(self, pks: list[int]) -> tuple[set[int], set[int]]:
        """One round trip: try the advisory locks, extend the leases of the locked items
        that hold the token. Returns (locked, held).

        A lease with less than ``FRESH_SLACK`` of a renewal period gone (a message taken
        within seconds of its claim: the usual case) is not rewritten, only read: its row
        would get a new version for a few seconds of lease (one of the three an item's row
        got per sync: claim, take, finish). ``renewed_at`` is then set that much earlier,
        so the next renewal comes as early as a full extension's would leave the lease, and
        every item still starts with at least two thirds of a lease ahead of it. A lease
        that fresh cannot be reclaimed meanwhile (a claim needs it ended)."""
        slack = self.renew_every * FRESH_SLACK
        self.renewed_at = time.monotonic() - slack
        until = timezone.now() + timedelta(seconds=self.seconds)
        fresh = until - timedelta(seconds=slack)
        sql = f"""
            WITH locked AS MATERIALIZED (
                SELECT pk FROM unnest(%s::bigint[]) AS pk
                WHERE pg_try_advisory_lock(%s, (pk %% 2147483648)::int4)
            ), extended AS (
                UPDATE {self.table} AS t SET leased_until = %s
                FROM locked WHERE t.{self.pk_column} = locked.pk AND t.lease_token = %s
                    AND (t.leased_until IS NULL OR t.leased_until < %s)
                RETURNING t.{self.pk_column} AS pk
            ), fresh AS (
                SELECT t.{self.pk_column} AS pk FROM {self.table} AS t
                JOIN locked ON t.{self.pk_column} = locked.pk
                WHERE t.lease_token = %s AND t.leased_until >= %s
            )
            SELECT pk, false FROM locked
            UNION ALL SELECT pk, true FROM extended
            UNION ALL SELECT pk, true FROM fresh
        """  # noqa: S608 - identifiers from model metadata, values are parameters
        params = [list(pks), self.lock_class, until, self.token, fresh, self.token, fresh]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return {pk for pk, held in rows if not held}, {pk for pk, held in rows if held}

    def _unlock(self, pks: set[int]) -> None:
        if not pks or not self.advisory:
            return
        sql = """
            SELECT count(*) FROM unnest(%s::bigint[]) AS pk
            WHERE pg_advisory_unlock(%s, (pk %% 2147483648)::int4)
        """
        with connection.cursor() as cursor:
            cursor.execute(sql, [sorted(pks), self.lock_class])


class _Heart:
    """One daemon thread per worker process that beats for every running chunk: registering
    a chunk costs a set insertion, not a thread (a fork starts a new one on first use)."""

    PERIOD = 0.5

    def __init__(self) -> None:
        self.leases: set[ChunkLease] = set()
        self.mutex = threading.Lock()
        self.pid = 0

    def add(self, lease: ChunkLease) -> None:
        with self.mutex:
            self.leases.add(lease)
            if self.pid != os.getpid():
                self.pid = os.getpid()
                threading.Thread(target=self.run, daemon=True, name="lease-heartbeat").start()

    def discard(self, lease: ChunkLease) -> None:
        with self.mutex:
            self.leases.discard(lease)

    def run(self) -> None:
        while True:
            time.sleep(self.PERIOD)
            with self.mutex:
                leases = list(self.leases)
            now = time.monotonic()
            for lease in leases:
                try:
                    lease.beat(now)
                except Exception:  # never let the heartbeat die
                    logger.exception("lease heartbeat")
                    connections.close_all()  # this thread's connection: start afresh


_heart = _Heart()
