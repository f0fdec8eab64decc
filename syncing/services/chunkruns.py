"""Timing one chunk as its worker slot saw it, and writing its ``ChunkRun`` row.

The attempts time the sync functions only; a slot also spends time on the message around
them (taking the leases, loading the items, the flushes, releasing the leases) and between
messages (the task framework's own work). ``ChunkClock`` measures the whole chunk (wall and
the slot thread's CPU) and the time since the same thread's previous chunk ended, so
``capacity`` can size a slot from what it really costs. One INSERT per chunk, after its
last flush; a failure to record never fails the chunk.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.db import DatabaseError, connection
from django.utils import timezone

logger = logging.getLogger("syncing.run")

_slot = threading.local()  # (perf_counter, thread_time) when this thread's last chunk ended
_worker: tuple[int, str] | None = None


def worker_name() -> str:
    """``host:pid`` of this process (computed again after a fork)."""
    global _worker
    pid = os.getpid()
    if _worker is None or _worker[0] != pid:
        _worker = (pid, f"{socket.gethostname()[:100]}:{pid}")
    return _worker[1]


def cpu_wait_ns() -> int | None:
    """Nanoseconds this thread has spent runnable but waiting for a CPU (Linux
    /proc/thread-self/schedstat, second field); None where not available."""
    try:
        with open("/proc/thread-self/schedstat", "rb") as f:
            return int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None


@dataclass
class ChunkClock:
    started_at: datetime = field(default_factory=timezone.now)
    wall0: float = field(default_factory=time.perf_counter)
    cpu0: float = field(default_factory=time.thread_time)
    wait0: int | None = field(default_factory=cpu_wait_ns)

    def between(self) -> tuple[float | None, float | None]:
        """Wall and CPU ms of this thread since its previous chunk ended (None: first)."""
        last = getattr(_slot, "ended", None)
        if last is None:
            return None, None
        return (self.wall0 - last[0]) * 1000, (self.cpu0 - last[1]) * 1000

    def stop(self) -> tuple[float, float, float | None]:
        """Wall, CPU and waiting-for-a-CPU ms since the start; marks the end of this
        thread's chunk."""
        wall1, cpu1, wait1 = time.perf_counter(), time.thread_time(), cpu_wait_ns()
        _slot.ended = (wall1, cpu1)
        wait = None if wait1 is None or self.wait0 is None else (wait1 - self.wait0) / 1e6
        return (wall1 - self.wall0) * 1000, (cpu1 - self.cpu0) * 1000, wait


INSERT_SQL = """
    INSERT INTO {table} (kind, tier, worker, started_at, claimed, items, wall_ms, cpu_ms,
                         cpu_wait_ms, queue_ms, between_ms, between_cpu_ms, load)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""


def record(
    kind_name: str,
    tier: str,
    clock: ChunkClock,
    *,
    claimed: int,
    items: int,
    published: float | None = None,
) -> None:
    """Stop ``clock`` and write the chunk's row (a database error is logged, not raised:
    the chunk's items are already finished). ``published``: the message's publish time
    (epoch seconds), for its queue wait."""
    from syncing.models import ChunkRun

    between_ms, between_cpu_ms = clock.between()
    wall_ms, cpu_ms, wait_ms = clock.stop()
    queue_ms = None
    if published is not None:
        queue_ms = max(0.0, (clock.started_at.timestamp() - float(published)) * 1000)
    params = [
        kind_name,
        tier[:32],
        worker_name(),
        clock.started_at,
        claimed,
        items,
        round(wall_ms, 3),
        round(cpu_ms, 3),
        _round(wait_ms),
        _round(queue_ms),
        _round(between_ms),
        _round(between_cpu_ms),
        _load(),
    ]
    sql = INSERT_SQL.format(table=connection.ops.quote_name(ChunkRun._meta.db_table))
    try:
        _insert(sql, params)
    except DatabaseError as exc:  # e.g. the server away, or the table not migrated yet
        logger.warning("%s: chunk run not recorded: %s", kind_name, exc)


def _insert(sql: str, params: list) -> None:
    """One INSERT; on PostgreSQL without waiting for its WAL flush: ``synchronous_commit``
    off for this statement's implicit transaction only, sent with it in one round trip
    (client-side binding, Django's default). A crash may lose the last records, never
    anything else; a plain autocommit INSERT waited ~2.6-4.7 ms for the disk here, this
    one ~0.3 ms."""
    options = connection.settings_dict.get("OPTIONS") or {}
    fast = (
        connection.vendor == "postgresql"
        and connection.get_autocommit()
        and not options.get("server_side_binding")
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL synchronous_commit = off; {sql}" if fast else sql, params)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None
