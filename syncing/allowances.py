"""Manual-sync allowances: how many "sync now" requests an owner may make per hour.

Counted over a **sliding** hour (a request counts for exactly one hour after it was made,
whatever the clock says), in one place shared by every web and worker process:

- in Redis when ``settings.REDIS_URL`` is set: one sorted set per owner, trimmed, counted
  and added to by one Lua script (atomic, so two processes cannot both take the last slot);
- in the database otherwise (the embedded default): ``ManualSyncUse`` rows, counted and
  added while the owner's ``Account`` row is locked (``SELECT ... FOR UPDATE`` on
  PostgreSQL; SQLite serialises writers anyway).

If Redis fails, the database counts instead (logged): an allowance is a promise to the
other owners, so it must not fail open.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 3600
REDIS_PREFIX = "syncbeat:manual-sync:"

# KEYS[1]: the owner's set; ARGV: now (s), window (s), limit, a unique member.
# Returns {1, 0} when taken, else {0, ms until the oldest request leaves the window}.
_TAKE_SCRIPT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, math.ceil((tonumber(oldest[2]) + window - now) * 1000)}
"""


@dataclass(frozen=True)
class Take:
    allowed: bool
    retry_after: int  # seconds until a slot frees (0 when allowed)


def take_manual_sync(user, limit: int, *, now: datetime | None = None) -> Take:
    """Count one manual sync of ``user`` if fewer than ``limit`` were made in the last hour.

    ``now`` is for tests (crossing the hour); production uses the wall clock.
    """
    now = now or datetime.now(UTC)
    redis_url = settings.REDIS_URL
    if redis_url:
        try:
            return _take_redis(redis_url, user.pk, limit, now)
        except Exception as exc:  # noqa: BLE001 - any Redis trouble: count in the database
            logger.warning("manual-sync allowance: Redis unavailable (%r), using the database", exc)
    return _take_database(user, limit, now)


def _take_redis(redis_url: str, user_id: int, limit: int, now: datetime) -> Take:
    script = _script_for(redis_url)
    allowed, wait_ms = script(
        keys=[f"{REDIS_PREFIX}{user_id}"],
        args=[repr(now.timestamp()), WINDOW_SECONDS, limit, uuid.uuid4().hex],
    )
    if int(allowed):
        return Take(True, 0)
    return Take(False, max(1, -(-int(wait_ms) // 1000)))


_scripts_lock = threading.Lock()


@lru_cache(maxsize=4)
def _cached_script(redis_url: str):
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    return client.register_script(_TAKE_SCRIPT)


def _script_for(redis_url: str):
    with _scripts_lock:
        return _cached_script(redis_url)


def _take_database(user, limit: int, now: datetime) -> Take:
    from syncing.models import Account, ManualSyncUse

    window_start = now - timedelta(seconds=WINDOW_SECONDS)
    Account.objects.get_or_create(user=user)
    with transaction.atomic():
        # The owner's account row is the lock: two processes taking at once queue here.
        Account.objects.select_for_update().filter(user=user).first()
        uses = ManualSyncUse.objects.filter(user=user)
        uses.filter(at__lte=window_start).delete()
        recent = sorted(uses.filter(at__gt=window_start).values_list("at", flat=True))
        if len(recent) < limit:
            ManualSyncUse.objects.create(user=user, at=now)
            return Take(True, 0)
    frees_at = recent[-limit] + timedelta(seconds=WINDOW_SECONDS) if limit > 0 else now
    return Take(False, max(1, int((frees_at - now).total_seconds() + 0.999)))


def prune_manual_sync_uses(now: datetime | None = None) -> int:
    """Delete the database's manual-sync rows that left the window (owners who stopped
    asking); run with the attempts' prune. Returns how many."""
    from syncing.models import ManualSyncUse

    cut = (now or datetime.now(UTC)) - timedelta(seconds=WINDOW_SECONDS)
    return ManualSyncUse.objects.filter(at__lte=cut).delete()[0]


def reset_allowance_clients() -> None:
    """Forget cached Redis clients (tests that switch REDIS_URL)."""
    with _scripts_lock:
        _cached_script.cache_clear()
