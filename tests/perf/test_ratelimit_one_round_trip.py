"""The Redis limiter takes cooldown, paced slot and window in one script call, and the
limit still holds across workers."""

from __future__ import annotations

import bisect
import threading
import time
import uuid

import pytest
from limits.storage import RedisStorage

from syncing.ratelimit import HostLimiter, RateLimitWait


def _limiter(settings) -> HostLimiter:
    return HostLimiter(RedisStorage(settings.TEST_REDIS_URL, key_prefix="syncbeat:limits"))


@pytest.mark.redis
def test_four_threads_on_two_workers_never_exceed_the_shared_limit(settings):
    key = f"test-shared-{uuid.uuid4().hex[:8]}"
    workers = [_limiter(settings), _limiter(settings)]
    stamps: list[float] = []
    lock = threading.Lock()
    stop_at = time.time() + 1.6

    def calls(limiter: HostLimiter) -> None:
        while time.time() < stop_at:
            limiter.acquire(key, "40/second", deadline_at=time.monotonic() + 5)
            with lock:
                stamps.append(time.time())

    threads = [threading.Thread(target=calls, args=(workers[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    stamps.sort()
    busiest = max(bisect.bisect_left(stamps, s + 1.0) - i for i, s in enumerate(stamps))
    assert busiest <= 40, busiest
    assert len(stamps) >= 55  # ~38/s paced: the limit is used, not just respected


@pytest.mark.redis
def test_the_window_counts_what_other_workers_took(settings):
    key = f"test-window-{uuid.uuid4().hex[:8]}"
    first, second = _limiter(settings), _limiter(settings)
    for limiter in (first, second, first):
        limiter.acquire(key, "3/minute", deadline_at=time.monotonic() + 1)
    with pytest.raises(RateLimitWait) as caught:
        second.acquire(key, "3/minute", deadline_at=time.monotonic() + 1)
    assert 55 < caught.value.wait <= 60 and not caught.value.cooling_down
    first.cool_down(key, 30)
    with pytest.raises(RateLimitWait) as cooling:
        second.acquire(key, "3/minute", deadline_at=time.monotonic() + 1)
    assert cooling.value.cooling_down and 25 < cooling.value.wait <= 30
