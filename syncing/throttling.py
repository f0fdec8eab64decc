"""Throttles: failed logins (per account and per client address) and API requests (per
owner by plan, per address for anonymous requests).

Counters live in the default cache, so every web process shares them when the cache is
Redis (REDIS_URL); without it they are per process (the embedded first run).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import secrets
import threading
import time
import weakref

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework.exceptions import Throttled
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle

from syncing.clientip import client_ip
from syncing.models import Plan


class LoginThrottled(Exception):
    """Too many failed logins for this account or address; ``wait`` is in seconds."""

    def __init__(self, wait: float):
        self.wait = max(1, math.ceil(wait))
        super().__init__(self.message)

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.wait / 60))
        unit = "minute" if minutes == 1 else "minutes"
        return f"Too many attempts, try again in {minutes} {unit}."


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _scopes(request: HttpRequest | None, username: str | None) -> list[tuple[str, int]]:
    """(cache key stem, failures allowed within the window) for the account and address."""
    scopes = []
    account = (username or "").strip().lower()
    if account:
        scopes.append((f"login:acct:{_digest(account)}", settings.LOGIN_FAILURES_PER_ACCOUNT))
    address = client_ip(request) if request is not None else ""
    if address:
        scopes.append((f"login:addr:{_digest(address)}", settings.LOGIN_FAILURES_PER_ADDRESS))
    return scopes


def login_wait(request: HttpRequest | None, username: str | None) -> float | None:
    """Seconds until this account and address may try again, or None when they may now."""
    now = time.time()
    waits = []
    for stem, allowed in _scopes(request, username):
        failures = cache.get(f"{stem}:n") or 0
        if failures >= allowed:
            until = cache.get(f"{stem}:t") or now + settings.LOGIN_LOCKOUT_SECONDS
            waits.append(max(1.0, until - now))
    return max(waits) if waits else None


def check_login_allowed(request: HttpRequest | None, username: str | None) -> None:
    """Raises LoginThrottled when the account or the address has failed too often."""
    wait = login_wait(request, username)
    if wait is not None:
        raise LoginThrottled(wait)


def record_login_failure(request: HttpRequest | None, username: str | None) -> None:
    """Count one failed login against the account and the address, for a fixed window that
    starts with the first failure (settings.LOGIN_LOCKOUT_SECONDS)."""
    window = settings.LOGIN_LOCKOUT_SECONDS
    for stem, _ in _scopes(request, username):
        cache.add(f"{stem}:t", time.time() + window, window)
        cache.add(f"{stem}:n", 0, window)
        try:
            cache.incr(f"{stem}:n")
        except ValueError:  # expired between add and incr
            cache.set(f"{stem}:n", 1, window)


def clear_login_failures(username: str | None) -> None:
    """A successful login forgets the account's failures (the address keeps its own)."""
    for stem, _ in _scopes(None, username):
        cache.delete_many([f"{stem}:n", f"{stem}:t"])


# --- the API ----------------------------------------------------------------------------
# A moving window in a sorted set: drop what left the window; when full, answer the oldest
# request's time (for Retry-After) and record nothing; else record this one.
_WINDOW_SCRIPT = """
local now = tonumber(ARGV[1])
local duration = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - duration)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(duration))
return false
"""


# The script's name for EVALSHA (Redis names scripts by their SHA-1; not a security use).
_WINDOW_SHA = hashlib.sha1(_WINDOW_SCRIPT.encode(), usedforsecurity=False).hexdigest()


def _run_window(client, key: str, args: list):
    """EVALSHA of the window script on the client's own connection (loading the script into
    a server that does not have it yet), straight on the connection: redis-py's
    execute_command (retry wrapper, timing and metrics hooks, response callbacks) cost more
    instructions than the rest of the throttle. A connection that failed or timed out is
    dropped, as redis-py does, so it never carries a stale reply; the request is tried once
    more on a new connection, then the error is raised."""
    conn = client.connection
    for attempt in (1, 2):
        try:
            try:
                conn.send_command("EVALSHA", _WINDOW_SHA, 1, key, *args)
                return conn.read_response()
            except NoScriptError:
                conn.send_command("SCRIPT", "LOAD", _WINDOW_SCRIPT)
                conn.read_response()
                conn.send_command("EVALSHA", _WINDOW_SHA, 1, key, *args)
                return conn.read_response()
        except ResponseError:
            raise
        except (RedisConnectionError, RedisTimeoutError, OSError):
            conn.disconnect()
            if attempt == 2:
                raise
        except BaseException:
            conn.disconnect()
            raise


# One client per connection pool and thread, holding one connection of the pool for good
# (single_connection_client). Django's cache makes a new redis.Redis for every call (half the
# throttle's CPU); a shared client checks a connection out of the pool and back per command:
# two getpid, two ioctl and a recv (redis-py's check that the connection has nothing unread)
# besides the round trip itself. redis-py drops a connection that failed or timed out, so a
# held one never carries a stale reply; the fork hook gives a child process its own.
class _Clients(threading.local):
    def __init__(self) -> None:
        self.by_pool: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


_CLIENTS = _Clients()


def _redis_client():
    """The default cache's Redis client, or None when the cache is not Django's Redis."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(backend, RedisCache):
        return None
    pool = backend._cache._get_connection_pool(write=True)
    by_pool = _CLIENTS.by_pool
    client = by_pool.get(pool)
    if client is None:
        client = by_pool[pool] = backend._cache._client(
            connection_pool=pool, single_connection_client=True
        )
    return client


# Window members: unique per request without a getrandom per request (secrets.token_hex):
# a random tag per process (made again in a forked child) and a counter.
_MEMBER = {"tag": secrets.token_hex(4), "count": itertools.count()}


def _after_fork() -> None:
    global _CLIENTS
    _CLIENTS = _Clients()
    _MEMBER.update(tag=secrets.token_hex(4), count=itertools.count())


os.register_at_fork(after_in_child=_after_fork)


class _SettingsRateThrottle(SimpleRateThrottle):
    """A DRF throttle whose rate is read from settings.API_THROTTLE_RATES per request (DRF's
    own reads its rates once, at import)."""

    def __init__(self):  # no rate until the request says whose it is
        pass

    def _use_rate(self, rate: str) -> None:
        self.rate = rate
        self.num_requests, self.duration = self.parse_rate(rate)

    def allow_request(self, request, view) -> bool:
        """DRF's moving window, in one round trip when the cache is Redis (DRF's reads the
        history list and writes it back: two, a pickled list of up to the whole minute's
        requests each way, and two requests at once could both pass the last slot)."""
        client = _redis_client()
        if client is None:
            return super().allow_request(request, view)
        self.now = self.timer()
        # The key is ours (scope and a pk or a digest): made, not validated for memcached.
        key = cache.make_key(self.get_cache_key(request, view) + ":w")
        member = f"{self.now:.6f}:{_MEMBER['tag']}:{next(_MEMBER['count'])}"
        args = [self.now, self.duration, self.num_requests, member]
        oldest = _run_window(client, key, args)
        self._oldest = None if oldest is None else float(oldest)
        return oldest is None

    def wait(self) -> float | None:
        if getattr(self, "_oldest", None) is None:
            return super().wait()
        return max(0.0, self.duration - (self.now - self._oldest))


class AnonApiThrottle(_SettingsRateThrottle):
    """Requests without credentials: settings.API_THROTTLE_RATES["anon"] per client address."""

    scope = "anon"

    def allow_request(self, request, view) -> bool:
        if request.user and request.user.is_authenticated:
            return True
        if getattr(request, "_anon_throttle_counted", False):
            return True  # counted already by AnonymousThrottledFirst
        request._anon_throttle_counted = True
        self._use_rate(settings.API_THROTTLE_RATES["anon"])
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": _digest(client_ip(request))}


class AnonymousThrottledFirst(BasePermission):
    """A permission that runs the anonymous throttle before the other permissions, so that
    requests without credentials are throttled even where they end in a 401 (DRF checks
    throttles after permissions)."""

    def has_permission(self, request, view) -> bool:
        if request.user and request.user.is_authenticated:
            return True
        throttle = AnonApiThrottle()
        if not throttle.allow_request(request, view):
            raise Throttled(wait=throttle.wait())
        return True


class PlanApiThrottle(_SettingsRateThrottle):
    """Signed-in requests: the owner's plan's rate in settings.API_THROTTLE_RATES."""

    scope = "plan"

    def allow_request(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return True
        rates = settings.API_THROTTLE_RATES
        self._use_rate(rates.get(_plan(request.user), rates[Plan.FREE]))
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


def _plan(user) -> str:
    try:
        return user.sync_account.plan
    except ObjectDoesNotExist:  # no Account row yet: the free plan
        return Plan.FREE
