"""Exactly one beat: a beat started by mistake next to another waits, and says so.

At ``beat_init`` (before beat's first tick) the beat takes a lock and holds it for its whole
life; a second beat finds it taken, logs that it waits, and tries again every
``BEAT_LOCK_RETRY_SECONDS`` until the first one stops, then takes over. The lock, by
``settings.BEAT_LOCK`` (``auto`` picks the first that applies):

- ``postgres``: a session-level advisory lock (``pg_try_advisory_lock``) on a connection of
  its own, outside Django's (a pooled connection would keep it after use). PostgreSQL
  frees it when the beat's connection ends, so a beat killed with -9 frees it at once.
  Not behind PgBouncer in transaction mode (``DATABASE_POOLER=transaction``): settings
  refuse it there, and ``auto`` goes on to Redis;
- ``redis``: a redis-py ``Lock`` with a TTL (``BEAT_LOCK_TTL_SECONDS``), renewed while beat
  runs; a dead beat's lock expires within the TTL. Uses REDIS_URL, else a Redis broker;
- ``file``: ``flock`` on ``var/beat.lock`` (SQLite, one machine); the kernel frees it when
  the process dies;
- ``off``: no lock.

While beat runs, a thread checks every third of the TTL that the lock is still held. If it
was lost (PostgreSQL restarted and another beat took it, the Redis key expired), this beat
stops itself (SIGTERM): its supervisor restarts it, and it waits for the lock again.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import signal
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connections

logger = logging.getLogger("syncing.beat")
LOCK_NAME = "syncbeat:beat-lock"
WAIT_LOG_EVERY_SECONDS = 60.0


def _database_name() -> str:
    return str(settings.DATABASES["default"].get("NAME") or "")


class PostgresLock:
    kind = "PostgreSQL advisory"

    def __init__(self) -> None:
        digest = hashlib.sha256(f"{LOCK_NAME}:{_database_name()}".encode()).digest()
        self.key = int.from_bytes(digest[:8], "big", signed=True)
        self.conn = None

    def describe(self) -> str:
        return f"advisory lock {self.key} on database {_database_name()!r}"

    def _connect(self):
        import psycopg

        db = settings.DATABASES["default"]
        params = {
            "dbname": db.get("NAME"),
            "user": db.get("USER") or None,
            "password": db.get("PASSWORD") or None,
            "host": db.get("HOST") or None,
            "port": db.get("PORT") or None,
        }
        params = {k: v for k, v in params.items() if v}
        return psycopg.connect(
            **params, autocommit=True, connect_timeout=5, application_name="syncbeat-beat-lock"
        )

    def try_acquire(self) -> bool:
        try:
            if self.conn is None or self.conn.closed:
                self.conn = self._connect()
            row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", [self.key]).fetchone()
            return bool(row and row[0])
        except Exception as exc:  # noqa: BLE001 - the database is away: not acquired yet
            logger.warning("beat lock: PostgreSQL unavailable (%s)", exc)
            self._close()
            return False

    def still_held(self) -> bool:
        """A live session still holds its lock; a broken one lost it (try to take it back)."""
        try:
            self.conn.execute("SELECT 1")
            return True
        except Exception:  # noqa: BLE001
            self._close()
            return self.try_acquire()

    def _close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001, S110 - closing a broken connection
                pass
        self.conn = None


class RedisLock:
    kind = "Redis"

    def __init__(self, url: str) -> None:
        import redis

        self.ttl = float(settings.BEAT_LOCK_TTL_SECONDS)
        self.name = f"{LOCK_NAME}:{_database_name()}"
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.lock = client.lock(self.name, timeout=self.ttl, thread_local=False)
        self.last_renewed = time.monotonic()

    def describe(self) -> str:
        return f"Redis key {self.name!r} (TTL {self.ttl:g} s)"

    def try_acquire(self) -> bool:
        try:
            taken = self.lock.acquire(blocking=False, token=uuid.uuid4().hex)
        except Exception as exc:  # noqa: BLE001 - Redis is away: not acquired yet
            logger.warning("beat lock: Redis unavailable (%s)", exc)
            return False
        if taken:
            self.last_renewed = time.monotonic()
        return bool(taken)

    def still_held(self) -> bool:
        from redis.exceptions import LockError

        try:
            self.lock.reacquire()  # the TTL starts again
        except LockError:
            return False  # expired, and maybe taken by another beat
        except Exception as exc:  # noqa: BLE001 - Redis away: held until the TTL runs out
            logger.warning("beat lock: cannot renew in Redis (%s)", exc)
            return time.monotonic() - self.last_renewed < self.ttl
        self.last_renewed = time.monotonic()
        return True


class FileLock:
    kind = "file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = None

    def describe(self) -> str:
        return f"file {self.path}"

    def try_acquire(self) -> bool:
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for the beat's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self.handle = handle
        return True

    def still_held(self) -> bool:
        return True  # the kernel holds it for as long as this process lives


def choose_lock() -> PostgresLock | RedisLock | FileLock | None:
    """The lock ``settings.BEAT_LOCK`` asks for; None for ``off``."""
    mode = settings.BEAT_LOCK
    redis_url = settings.REDIS_URL or (
        settings.CELERY_BROKER_URL if settings.CELERY_BROKER_URL.startswith("redis") else ""
    )
    pooled = settings.DATABASE_POOLER == "transaction"
    if mode == "auto":
        # Behind PgBouncer in transaction mode a session lock would be taken on whichever
        # server session the statement got, and kept there for another client: never.
        if connections["default"].vendor == "postgresql" and not pooled:
            mode = "postgres"
        elif redis_url:
            mode = "redis"
        else:
            mode = "file"
    if mode == "off":
        return None
    if mode == "postgres":
        return PostgresLock()
    if mode == "redis":
        return RedisLock(redis_url)
    return FileLock(Path(settings.VAR_DIR) / "beat.lock")


def hold_beat_lock(sender=None, **kwargs) -> None:
    """celery ``beat_init``: wait for the lock, then keep it (see the module docstring)."""
    lock = choose_lock()
    if lock is None:
        logger.warning("BEAT_LOCK=off: nothing stops a second beat from dispatching twice")
        return
    retry = float(settings.BEAT_LOCK_RETRY_SECONDS)
    last_said = 0.0
    while not lock.try_acquire():
        if time.monotonic() - last_said >= WAIT_LOG_EVERY_SECONDS:
            logger.warning(
                "beat lock: another beat holds the %s lock (%s); this beat (pid %d) waits "
                "and takes over when it stops",
                lock.kind,
                lock.describe(),
                os.getpid(),
            )
            last_said = time.monotonic()
        time.sleep(retry)
    logger.info(
        "beat lock: acquired the %s lock (%s); this beat (pid %d) dispatches",
        lock.kind,
        lock.describe(),
        os.getpid(),
    )
    _fresh_start(sender)
    keeper = threading.Thread(target=_keep, args=(lock,), name="beat-lock", daemon=True)
    keeper.start()


def _fresh_start(service) -> None:
    """After a wait: new database connections (the old ones may have died meanwhile), and
    the schedule read again, with the last runs the previous beat wrote."""
    connections.close_all()
    scheduler = getattr(service, "scheduler", None)
    if scheduler is not None and hasattr(scheduler, "_initial_read"):
        scheduler._initial_read = True  # django-celery-beat reloads on its next tick


def _keep(lock) -> None:
    every = max(0.5, float(settings.BEAT_LOCK_TTL_SECONDS) / 3)
    while True:
        time.sleep(every)
        if not lock.still_held():
            logger.error(
                "beat lock: lost the %s lock (%s); stopping this beat so that only one "
                "dispatches (its supervisor restarts it, and it waits)",
                lock.kind,
                lock.describe(),
            )
            os.kill(os.getpid(), signal.SIGTERM)
            return
