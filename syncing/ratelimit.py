"""The per-key rate limit the fetcher waits on, shared by every worker.

A moving window kept in Redis when ``settings.REDIS_URL`` is set (so all processes on all
machines share it; one Lua script per acquire checks the cooldown, reserves the paced slot
and takes the window slot in a single round trip) and in process memory otherwise (the
``limits`` library's moving window). Beside the
window, a key may be *cooling down*: after a 429 (or a 503 with ``Retry-After``) the fetcher
stores "nobody calls this key before T" in the same backend, and every worker waits it out
instead of stampeding the server the moment its own retry timer fires.

    limiter = get_limiter()
    limiter.acquire("api.example.com", "20/second", deadline_at=time.monotonic() + 5)
    limiter.cool_down("api.example.com", 30)

Inside ``with batched(expected=n):`` (the engine opens one per chunk) a thread's paced
acquires on Redis reserve a key's next slots several at a time, one script call for up to
MAX_BATCH fetches of one host; slots it does not send go back at the end of the block.

``acquire`` raises :class:`RateLimitWait` when the slot (or the end of the cooldown) lies
beyond the deadline; the fetcher turns that into ``TransientFetchError("rate_limited")``.
If the Redis backend fails, the limiter logs and lets the request through (fail open): a
rate limit is politeness, not a reason to stop syncing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from django.conf import settings
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, RedisStorage
from limits.strategies import MovingWindowRateLimiter

logger = logging.getLogger(__name__)

REDIS_KEY_PREFIX = "syncbeat:limits"
COOLDOWN_PREFIX = "syncbeat:fetch:cooldown:"
# A server cannot lock a key for longer than this, whatever its Retry-After says.
MAX_COOLDOWN = 3600.0
# Never sleep less than this between two looks at a full window (avoids a busy loop).
MIN_SLEEP = 0.01

# Keep the later of the stored and the new end of a cooldown; expire with it.
_COOLDOWN_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local until_ts = tonumber(ARGV[1])
if until_ts > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


# Pacing: reserve the next evenly spaced slot for a key ("nobody before T, then T + step").
_PACE_SCRIPT = """
local now = tonumber(ARGV[1])
local step = tonumber(ARGV[2])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, nxt)
redis.call('SET', KEYS[1], tostring(slot + step), 'PX', ARGV[3])
return tostring(slot - now)
"""
PACE_PREFIX = "syncbeat:fetch:pace:"
# Requests are spaced a little wider than the limit allows: a burst sent at the very start of
# a window reaches a provider spread by network and scheduling jitter, and a provider that
# counts over its own sliding window would see a few too many. 4% below the limit avoids most
# of that for a plain ``acquire``; tracked requests (``acquire_request``) cannot be counted
# twice in a window whatever the spread (see _ACQUIRE_SCRIPT), so they are paced only 1%
# below it, and the window holds them back when answers are slow.
PACE_HEADROOM = 1.04
TRACKED_HEADROOM = 1.01
# Only fast limits are paced; a limit of one call per second or slower bursts freely.
PACE_MAX_STEP = 1.0

# The admission checks both scripts share (they expect now, step, amount, expiry and
# remaining as locals): a cooldown refuses with {1, seconds}; the paced slot is the pace key
# or now; a window already holding ``amount`` requests after ``slot - expiry`` refuses with
# {3, ...} (some still in flight) or {2, until one leaves}; a slot past the caller's
# ``remaining`` time refuses with {2, its distance}. Leaves ``slot`` and ``counted``.
_ADMISSION_CHECKS = """
local cool = tonumber(redis.call('GET', KEYS[1]) or '0')
if cool > now then
  return {1, tostring(cool - now)}
end
local slot = now
if step > 0 then
  slot = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0'))
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', tostring(now - expiry))
local since = '(' .. tostring(slot - expiry)
local counted = redis.call('ZCOUNT', KEYS[3], since, '+inf')
if counted >= amount then
  local first = redis.call('ZRANGEBYSCORE', KEYS[3], since, '+inf', 'WITHSCORES', 'LIMIT',
    counted - amount, 1)
  local latest = tonumber(first[2])
  if latest > now then
    return {3, tostring(math.max(step, 0.005))}
  end
  return {2, tostring(latest + expiry - now)}
end
if slot - now > remaining then
  return {2, tostring(slot - now)}
end
"""
# One round trip per acquire on Redis: the cooldown, the paced slot and the window are read
# and taken in one script. The window is a sorted set of the requests that may still count:
# each scored with the latest time it can have reached the provider. A plain ``acquire``
# scores its slot time; a tracked request (``acquire_request``) is scored ``slot + hold``
# while it is in flight and, once its answer is back, the time the answer came
# (``answered``): the provider counted it before it answered, so no spread between our
# check and its arrival (a late thread, a slow send, the provider's own queue) can put
# ``amount + 1`` arrivals in one of its sliding windows.
# Returns {status, seconds}: 0 = taken, sleep ``seconds`` then go (the paced slot);
# 1 = cooling down for ``seconds``; 2 = nothing taken, the next slot is ``seconds`` away;
# 3 = nothing taken, requests still in flight fill the window: look again in ``seconds``.
_ACQUIRE_SCRIPT = (
    """
local now = tonumber(ARGV[1])
local step = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local expiry = tonumber(ARGV[4])
local remaining = tonumber(ARGV[5])
local hold = tonumber(ARGV[8])
"""
    + _ADMISSION_CHECKS
    + """
redis.call('ZADD', KEYS[3], tostring(slot + hold), ARGV[7])
-- Only ever lengthen the window's expiry: a request with a shorter hold must not let the
-- key (and a longer one still in flight with it) expire.
local ttl = math.ceil((expiry + hold + slot - now) * 1000) + 1000
if redis.call('PTTL', KEYS[3]) < ttl then
  redis.call('PEXPIRE', KEYS[3], ttl)
end
if step > 0 then
  redis.call('SET', KEYS[2], tostring(slot + step), 'PX', ARGV[6])
end
return {0, tostring(slot - now)}
"""
)
# The answer to a tracked request came back: it reached the provider before ``now``.
_ANSWERED_SCRIPT = """
redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[2])
return 1
"""
# A batch of paced slots for one key in one round trip (``batched``): the checks of
# _ACQUIRE_SCRIPT, then up to ARGV[7] slots ``step`` apart from the first free one, as many as
# the window has room for at the first (the window only slides forward, so each later slot
# has at least that room) and as lie within the caller's deadline. Members are ARGV[8]..":i".
# Returns {0, wait for the first slot, slots granted, the pace value set} or the refusals of
# _ACQUIRE_SCRIPT ({1|2|3, seconds}).
_RESERVE_SCRIPT = (
    """
local now = tonumber(ARGV[1])
local step = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local expiry = tonumber(ARGV[4])
local remaining = tonumber(ARGV[5])
local want = tonumber(ARGV[7])
"""
    + _ADMISSION_CHECKS
    + """
local n = math.min(want, amount - counted)
if step > 0 then
  n = math.min(n, math.floor((remaining - (slot - now)) / step) + 1)
end
local entries = {}
for i = 0, n - 1 do
  entries[#entries + 1] = tostring(slot + i * step)
  entries[#entries + 1] = ARGV[8] .. ':' .. i
end
redis.call('ZADD', KEYS[3], unpack(entries))
local last = slot + (n - 1) * step
local ttl = math.ceil((expiry + last - now) * 1000) + 1000
if redis.call('PTTL', KEYS[3]) < ttl then
  redis.call('PEXPIRE', KEYS[3], ttl)
end
local pace = ''
if step > 0 then
  pace = tostring(last + step)
  redis.call('SET', KEYS[2], pace, 'PX', ARGV[6])
end
return {0, tostring(slot - now), n, pace}
"""
)
# Slots of a batch never sent go back: out of the window, and the pace key back to the first
# of them when nobody has reserved after the batch (its value is still the one the batch set).
_RETURN_SCRIPT = """
if #ARGV > 4 then
  redis.call('ZREM', KEYS[2], unpack(ARGV, 5))
end
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) == ARGV[1] then
  local back = math.max(tonumber(ARGV[2]), tonumber(ARGV[3]))
  redis.call('SET', KEYS[1], tostring(back), 'PX', ARGV[4])
end
return 1
"""
WINDOW_PREFIX = "syncbeat:fetch:sent:"
# A caller of a plain ``acquire`` that wakes this late for its paced slot (a share of the
# headroom: the GIL, a loaded machine) takes a new slot instead: sent now, it would reach the
# provider together with the callers of the next slots. Tracked requests need no such
# guess: their answer time bounds their arrival.
LATE_SHARE = 0.5
MAX_LATE_RETRIES = 5
# Inside ``batched`` a thread reserves a key's paced slots several at a time: at most this
# many, none further ahead than BATCH_HORIZON (a cooldown another worker stores meanwhile is
# seen at the next reservation, so this bounds how long it can go unnoticed), and no more than
# the caller's pace can use before they are late (``_Batch.want``).
MAX_BATCH = 16
BATCH_HORIZON = 0.25


@lru_cache(maxsize=256)
def _parse(limit: str) -> RateLimitItem:
    """``limits.parse``, once per limit string (it ran a regex for every fetch)."""
    return parse(limit)


def _pace_step(item: RateLimitItem, headroom: float = PACE_HEADROOM) -> float:
    """Seconds between two paced requests under ``item`` (0: a slow limit, not paced)."""
    step = item.get_expiry() / item.amount * headroom
    return step if step < PACE_MAX_STEP else 0.0


def _window_key(key: str, item: RateLimitItem) -> str:
    return f"{WINDOW_PREFIX}{key}:{item.amount}/{item.get_expiry()}"


class _Scope:
    """One thread's ``batched`` block: its reserved slots per key and limit."""

    def __init__(self, expected: int | None) -> None:
        self.expected = expected
        self.taken = 0
        self.batches: dict[tuple, _Batch] = {}

    def left(self) -> int:
        """Slots the block may still need (MAX_BATCH when it did not say)."""
        if self.expected is None:
            return MAX_BATCH
        return max(1, self.expected - self.taken)


class _Batch:
    """Paced slots one thread reserved for one key and limit, used in order."""

    def __init__(self, limiter: HostLimiter, keys: list[str], step: float, tolerance: float):
        self.limiter = limiter
        self.keys = keys  # cooldown, pace, window
        self.step = step
        self.tolerance = tolerance
        self.slots: deque[tuple[float, str]] = deque()  # (epoch seconds, window member)
        self.unsent: list[str] = []  # members taken but never sent: returned with the rest
        self.pace = ""  # the pace key's value the last reservation set
        self.size = 1  # doubles while the slots are used on time
        self.last_use = 0.0
        self.interval = 0.0  # monotonic seconds between the last two uses

    def want(self, left: int) -> int:
        """How many slots the next reservation asks for."""
        want = min(self.size, MAX_BATCH, left, 1 + int(BATCH_HORIZON / self.step))
        late_after = self.interval - self.step  # how much later each next slot is used
        if late_after > 0:
            want = min(want, 1 + int(self.tolerance / late_after))
        return max(1, want)

    def drop_late(self, now: float) -> None:
        """Slots already too late to send go to ``unsent``; the next reservation is small."""
        while self.slots and now - self.slots[0][0] > self.tolerance:
            self.unsent.append(self.slots.popleft()[1])
            self.size = 1

    def drop_all(self) -> None:
        self.unsent.extend(member for _slot, member in self.slots)
        self.slots.clear()
        self.size = 1

    def used(self) -> None:
        now = time.monotonic()
        if self.last_use:
            self.interval = now - self.last_use
        self.last_use = now


_scopes = threading.local()


@contextmanager
def batched(expected: int | None = None) -> Iterator[None]:
    """Within this block, this thread's paced ``acquire`` calls on Redis reserve slots
    several at a time (one script call for up to MAX_BATCH fetches of one host) instead of
    one round trip each. ``expected``: about how many acquires the block makes (a chunk's
    items), so it does not reserve many more. The slots are the window's and the pace's
    like any other, so the limit holds; a slot used later than a plain acquire would send
    it is not used. Slots left at the end go back (out of the window, the pace key back to
    the first of them if nobody reserved since). A nested block is part of the outer one.
    """
    if getattr(_scopes, "current", None) is not None:
        yield
        return
    scope = _scopes.current = _Scope(expected)
    try:
        yield
    finally:
        _scopes.current = None
        for batch in scope.batches.values():
            batch.limiter._return(batch)


class RateLimitWait(Exception):
    """The next free slot for a key lies beyond the caller's deadline."""

    def __init__(self, key: str, wait: float, *, cooling_down: bool = False) -> None:
        super().__init__(f"rate limit for {key}: next slot in {wait:.2f}s")
        self.key = key
        self.wait = wait
        self.cooling_down = cooling_down


class HostLimiter:
    """A moving-window limiter plus a shared cooldown per key."""

    def __init__(self, storage: MemoryStorage | RedisStorage) -> None:
        self.storage = storage
        self.strategy = MovingWindowRateLimiter(storage)
        self._is_redis = isinstance(storage, RedisStorage)
        self._memory_cooldowns: dict[str, float] = {}
        self._lock = threading.Lock()
        self._cooldown_script = None
        self._pace_script = None
        self._memory_pace: dict[str, float] = {}
        if self._is_redis:
            connection = storage.get_connection()
            self._cooldown_script = connection.register_script(_COOLDOWN_SCRIPT)
            self._pace_script = connection.register_script(_PACE_SCRIPT)
            self._acquire_script = connection.register_script(_ACQUIRE_SCRIPT)
            self._answered_script = connection.register_script(_ANSWERED_SCRIPT)
            self._reserve_script = connection.register_script(_RESERVE_SCRIPT)
            self._return_script = connection.register_script(_RETURN_SCRIPT)

    # --- cooldowns ---------------------------------------------------------------------
    def cool_down(self, key: str, seconds: float) -> None:
        """Make every caller of ``key`` wait ``seconds`` (capped at MAX_COOLDOWN) from now."""
        seconds = min(max(float(seconds), 0.0), MAX_COOLDOWN)
        if seconds <= 0:
            return
        until = time.time() + seconds
        scope = getattr(_scopes, "current", None)
        if scope is not None:
            for (limiter_id, batch_key, _window), batch in scope.batches.items():
                if limiter_id == id(self) and batch_key == key:
                    batch.drop_all()
        if self._is_redis:
            try:
                self._cooldown_script(
                    keys=[COOLDOWN_PREFIX + key], args=[repr(until), int(seconds * 1000) + 1]
                )
            except Exception as exc:  # a broken Redis must not break the fetch
                logger.warning("rate limiter: cannot store cooldown for %s: %r", key, exc)
            return
        with self._lock:
            self._memory_cooldowns[key] = max(until, self._memory_cooldowns.get(key, 0.0))

    def cooldown_remaining(self, key: str) -> float:
        """Seconds until ``key`` may be called again (0 when it is not cooling down)."""
        if self._is_redis:
            try:
                raw = self.storage.get_connection().get(COOLDOWN_PREFIX + key)
            except Exception as exc:
                logger.warning("rate limiter: cannot read cooldown for %s: %r", key, exc)
                return 0.0
            until = float(raw) if raw else 0.0
        else:
            with self._lock:
                until = self._memory_cooldowns.get(key, 0.0)
        return max(0.0, until - time.time())

    # --- the window --------------------------------------------------------------------
    def acquire(self, key: str, limit: str | RateLimitItem, *, deadline_at: float) -> float:
        """Take one slot for ``key`` under ``limit`` ("20/second"), sleeping while needed.

        ``deadline_at`` is a ``time.monotonic()`` value. Returns the seconds spent waiting.
        Raises RateLimitWait (without sleeping) when the wait would pass the deadline, and
        ValueError for a limit string the ``limits`` library cannot parse.
        """
        item = _parse(limit) if isinstance(limit, str) else limit
        if self._is_redis:
            scope = getattr(_scopes, "current", None)
            if scope is not None and _pace_step(item) > 0:
                return self._acquire_batched(scope, key, item, deadline_at=deadline_at)
            return self._acquire_on_redis(key, item, deadline_at=deadline_at)
        started = time.monotonic()
        pace = self._reserve_paced_slot(key, item)
        if pace > 0:
            if pace > deadline_at - time.monotonic():
                raise RateLimitWait(key, pace)
            time.sleep(pace)
        while True:
            remaining = deadline_at - time.monotonic()
            cooldown = self.cooldown_remaining(key)
            if cooldown > 0:
                if cooldown > remaining:
                    raise RateLimitWait(key, cooldown, cooling_down=True)
                time.sleep(cooldown)
                continue
            wait = self._try_hit(item, key)
            if wait <= 0:
                return time.monotonic() - started
            if wait > remaining:
                raise RateLimitWait(key, wait)
            time.sleep(wait)

    def acquire_request(
        self, key: str, limit: str | RateLimitItem, *, deadline_at: float
    ) -> str | None:
        """``acquire`` for one request whose answer the caller reports with ``answered``.

        Until then the request counts as possibly arriving at any time up to its deadline;
        afterwards, up to the time its answer came. Returns the ticket for ``answered``
        (None when nothing is tracked: the memory backend, or a limit slower than
        PACE_MAX_STEP, where a plain acquire is used). Raises as ``acquire``.
        """
        item = _parse(limit) if isinstance(limit, str) else limit
        if not self._is_redis or _pace_step(item) == 0.0:
            self.acquire(key, item, deadline_at=deadline_at)
            return None
        ticket = os.urandom(8).hex()
        hold = max(0.0, deadline_at - time.monotonic()) + 1.0
        self._acquire_on_redis(key, item, deadline_at=deadline_at, ticket=ticket, hold=hold)
        return ticket

    def answered(self, key: str, limit: str | RateLimitItem, ticket: str | None) -> None:
        """The answer to ``ticket``'s request came back now: it counts until now + window."""
        if ticket is None:
            return
        item = _parse(limit) if isinstance(limit, str) else limit
        try:
            self._answered_script(keys=[_window_key(key, item)], args=[time.time(), ticket])
        except Exception as exc:  # fail open: the entry expires with its hold
            logger.warning("rate limiter: cannot record an answer for %s: %r", key, exc)

    def _acquire_on_redis(
        self,
        key: str,
        item: RateLimitItem,
        *,
        deadline_at: float,
        ticket: str | None = None,
        hold: float = 0.0,
    ) -> float:
        """acquire() on Redis: one script call per try (cooldown, pace and window at once)."""
        started = time.monotonic()
        expiry = item.get_expiry()
        step = _pace_step(item, TRACKED_HEADROOM if ticket else PACE_HEADROOM)
        keys = [COOLDOWN_PREFIX + key, PACE_PREFIX + key, _window_key(key, item)]
        late_tolerance = expiry * (PACE_HEADROOM - 1) * LATE_SHARE
        late_retries = 0
        while True:
            remaining = deadline_at - time.monotonic()
            now = time.time()
            member = ticket or os.urandom(8).hex()
            try:
                status, wait = self._acquire_script(
                    keys=keys,
                    args=[now, step, item.amount, expiry, remaining, 60_000, member, hold],
                )
            except Exception as exc:  # fail open: see the module docstring
                logger.warning("rate limiter unavailable for %s, not limiting: %r", key, exc)
                return time.monotonic() - started
            status, wait = int(status), max(0.0, float(wait))
            if status == 0:
                if wait > 0:
                    time.sleep(wait)
                late = time.time() - (now + wait)
                retry = ticket is None and step and late_retries < MAX_LATE_RETRIES
                if retry and late > late_tolerance:
                    late_retries += 1  # the missed slot stays counted: never over the limit
                    continue
                return time.monotonic() - started
            if wait > remaining:
                raise RateLimitWait(key, wait, cooling_down=status == 1)
            time.sleep(max(wait, MIN_SLEEP) if status != 3 else wait)

    def _acquire_batched(
        self, scope: _Scope, key: str, item: RateLimitItem, *, deadline_at: float
    ) -> float:
        """acquire() inside ``batched``: the next reserved slot of ``key``, reserving more
        (one script call) when there is none left that can still be used on time."""
        started = time.monotonic()
        window = _window_key(key, item)
        batch = scope.batches.get((id(self), key, window))
        if batch is None:
            step = _pace_step(item)
            tolerance = item.get_expiry() * (PACE_HEADROOM - 1) * LATE_SHARE
            keys = [COOLDOWN_PREFIX + key, PACE_PREFIX + key, window]
            batch = scope.batches[(id(self), key, window)] = _Batch(self, keys, step, tolerance)
        late_retries = 0
        while True:
            batch.drop_late(time.time())
            if not batch.slots and not self._reserve(batch, key, item, scope, deadline_at):
                return time.monotonic() - started  # Redis failed: fail open
            slot, member = batch.slots[0]
            wait = slot - time.time()
            if wait > 0:
                if wait > deadline_at - time.monotonic():
                    raise RateLimitWait(key, wait)  # the slot stays for a later caller
                time.sleep(wait)
            batch.slots.popleft()
            if time.time() - slot > batch.tolerance and late_retries < MAX_LATE_RETRIES:
                late_retries += 1  # woke too late for it (see LATE_SHARE): never sent
                batch.unsent.append(member)
                batch.size = 1
                continue
            batch.used()
            scope.taken += 1
            return time.monotonic() - started

    def _reserve(
        self, batch: _Batch, key: str, item: RateLimitItem, scope: _Scope, deadline_at: float
    ) -> bool:
        """Reserve the batch's next slots (waiting while the window or a cooldown says so);
        False when Redis failed. Raises RateLimitWait as ``acquire``."""
        while True:
            remaining = deadline_at - time.monotonic()
            now = time.time()
            want = batch.want(scope.left())
            base = os.urandom(8).hex()
            args = [now, batch.step, item.amount, item.get_expiry(), remaining, 60_000, want, base]
            try:
                reply = self._reserve_script(keys=batch.keys, args=args)
            except Exception as exc:  # fail open: see the module docstring
                logger.warning("rate limiter unavailable for %s, not limiting: %r", key, exc)
                return False
            status, wait = int(reply[0]), max(0.0, float(reply[1]))
            if status == 0:
                first, granted = now + wait, int(reply[2])
                batch.slots.extend((first + i * batch.step, f"{base}:{i}") for i in range(granted))
                pace = reply[3]
                batch.pace = pace.decode() if isinstance(pace, bytes) else str(pace)
                batch.size = min(MAX_BATCH, 2 * granted)
                return True
            if wait > remaining:
                raise RateLimitWait(key, wait, cooling_down=status == 1)
            time.sleep(max(wait, MIN_SLEEP) if status != 3 else wait)

    def _return(self, batch: _Batch) -> None:
        """Give back the slots a batch reserved and never sent (see ``batched``)."""
        members = batch.unsent + [member for _slot, member in batch.slots]
        if not members:
            return
        first = batch.slots[0][0] if batch.slots else 0.0
        pace = batch.pace if batch.slots else ""
        try:
            self._return_script(
                keys=batch.keys[1:], args=[pace, first, time.time(), 60_000, *members]
            )
        except Exception as exc:  # they expire with the window: fewer sends, never more
            logger.warning("rate limiter: cannot return unused slots of %s: %r", batch.keys, exc)
        batch.unsent, batch.slots = [], deque()

    def _reserve_paced_slot(self, key: str, item: RateLimitItem) -> float:
        """Seconds to wait for this caller's evenly spaced slot (the window stays the cap).

        Spacing requests ``period / amount`` apart (plus PACE_HEADROOM) turns "50 at the top
        of every second" into one every ~20 ms, which is what providers' own limiters count.
        """
        step = item.get_expiry() / item.amount * PACE_HEADROOM
        if step >= PACE_MAX_STEP:
            return 0.0  # slow limits ("2/minute") may burst within their window
        now = time.time()
        if self._is_redis:
            try:
                wait = self._pace_script(
                    keys=[PACE_PREFIX + key], args=[repr(now), repr(step), 60_000]
                )
                return max(0.0, float(wait))
            except Exception as exc:  # fail open, as for the window
                logger.warning("rate limiter: cannot pace %s: %r", key, exc)
                return 0.0
        with self._lock:
            slot = max(now, self._memory_pace.get(key, 0.0))
            self._memory_pace[key] = slot + step
        return slot - now

    def _try_hit(self, item: RateLimitItem, key: str) -> float:
        """0 when a slot was taken, else the seconds until the window frees one."""
        try:
            if self.strategy.hit(item, "fetch", key):
                return 0.0
            stats = self.strategy.get_window_stats(item, "fetch", key)
        except Exception as exc:  # fail open: see the module docstring
            logger.warning("rate limiter unavailable for %s, not limiting: %r", key, exc)
            return 0.0
        return max(MIN_SLEEP, stats.reset_time - time.time())


@lru_cache(maxsize=4)
def _limiter_for(redis_url: str) -> HostLimiter:
    if redis_url:
        storage = RedisStorage(redis_url, key_prefix=REDIS_KEY_PREFIX, wrap_exceptions=True)
    else:
        storage = MemoryStorage()
    return HostLimiter(storage)


_limiters_lock = threading.Lock()


def get_limiter() -> HostLimiter:
    """The process's limiter for the current ``settings.REDIS_URL`` (memory when unset).

    Built under a lock: threads of one worker asking at once must share one limiter (and
    its in-memory window), not race to build one each.
    """
    with _limiters_lock:
        return _limiter_for(settings.REDIS_URL)


def reset_limiter() -> None:
    """Forget cached limiters (tests): the next call builds fresh storage.

    Memory state goes with them; Redis keys are left alone (tests use unique keys).
    """
    with _limiters_lock:
        _limiter_for.cache_clear()
