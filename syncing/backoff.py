"""The engine's one retry and backoff policy: exponential, capped, with full jitter.

Every wait after a failure comes from here: an item rescheduled after failed syncs
(``reschedule_delay``), the fetcher's short in-call retries (``short_retry_delay``), webhook
delivery retries (``webhook_retry_delay``) and a chunk retried after a database error
(``chunk_retry_delay``).

Full jitter (a uniform draw between 0 and the exponential ceiling, as in "Exponential
Backoff And Jitter", AWS Architecture Blog, 2015) spreads clients that failed together over
the whole window instead of sending them back in step. A server's ``Retry-After`` is a
floor: we never come back earlier than it asked.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.conf import settings

_random = random.SystemRandom()


def ceiling(tries: int, *, base: float, cap: float) -> float:
    """``min(cap, base * 2**(tries - 1))`` for the ``tries``-th failure in a row (1-based)."""
    exponent = min(max(0, tries - 1), 62)
    return min(float(cap), float(base) * (2**exponent))


def full_jitter(tries: int, *, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait: uniform in [0, ceiling], never below ``retry_after`` (capped at cap)."""
    wait = _random.uniform(0, ceiling(tries, base=base, cap=cap))
    if retry_after:
        wait = max(wait, min(float(retry_after), float(cap)))
    return wait


def reschedule_delay(consecutive_failures: int, *, retry_after: float | None = None) -> timedelta:
    """How long an item waits before its next try after ``consecutive_failures`` failures.

    Uniform in ``[0, min(SYNC_BACKOFF_CAP_SECONDS, SYNC_BACKOFF_BASE_SECONDS * 2**(n-1))]``,
    with the server's Retry-After as a floor.
    """
    seconds = full_jitter(
        consecutive_failures,
        base=settings.SYNC_BACKOFF_BASE_SECONDS,
        cap=settings.SYNC_BACKOFF_CAP_SECONDS,
        retry_after=retry_after,
    )
    return timedelta(seconds=seconds)


def short_retry_delay(try_number: int, *, base: float = 0.5, cap: float = 4.0) -> float:
    """Seconds before in-call retry ``try_number + 1`` (0-based, as the fetcher counts)."""
    return full_jitter(try_number + 1, base=base, cap=cap)


WEBHOOK_BASE_SECONDS = 30.0
WEBHOOK_CAP_SECONDS = 6 * 3600.0


def webhook_retry_delay(attempts: int) -> timedelta:
    """Wait before webhook delivery try ``attempts + 1``: up to 30 s, 1 min, 2 min ... 6 h."""
    seconds = full_jitter(attempts, base=WEBHOOK_BASE_SECONDS, cap=WEBHOOK_CAP_SECONDS)
    return timedelta(seconds=seconds)


CHUNK_RETRY_BASE_SECONDS = 2.0
CHUNK_RETRY_CAP_SECONDS = 30.0
CHUNK_RETRIES = 5


def chunk_retry_delay(retries: int) -> float:
    """Seconds before a chunk that hit a database error runs again (``retries`` so far)."""
    return full_jitter(retries + 1, base=CHUNK_RETRY_BASE_SECONDS, cap=CHUNK_RETRY_CAP_SECONDS)
