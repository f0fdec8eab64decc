"""Batched slot reservations (syncing.ratelimit.batched): fewer Redis round trips for a
chunk's fetches of one host, never more requests than the limit, nothing kept that was not
sent."""

from __future__ import annotations

import bisect
import threading
import time
import uuid

import pytest
from limits.storage import MemoryStorage, RedisStorage

from syncing import ratelimit
from syncing.ratelimit import (
    COOLDOWN_PREFIX,
    PACE_PREFIX,
    WINDOW_PREFIX,
    HostLimiter,
    RateLimitWait,
    batched,
)

pytestmark = pytest.mark.redis


def _limiter(settings) -> HostLimiter:
    return HostLimiter(RedisStorage(settings.TEST_REDIS_URL, key_prefix="syncbeat:limits"))


def _key(name: str) -> str:
    return f"test-batch-{name}-{uuid.uuid4().hex[:8]}"


def _count_reservations(limiter: HostLimiter) -> list[int]:
    """Wrap the limiter's reserve script; the list collects each call's requested size."""
    calls: list[int] = []
    script = limiter._reserve_script

    def counting(*, keys, args):
        calls.append(int(args[6]))
        return script(keys=keys, args=args)

    limiter._reserve_script = counting
    return calls


def _window(limiter: HostLimiter, key: str, limit: str) -> list[tuple[bytes, float]]:
    item = ratelimit._parse(limit)
    name = f"{WINDOW_PREFIX}{key}:{item.amount}/{item.get_expiry()}"
    return limiter.storage.get_connection().zrange(name, 0, -1, withscores=True)


def test_one_hosts_fetches_in_a_chunk_share_round_trips(settings):
    limiter, key = _limiter(settings), _key("share")
    calls = _count_reservations(limiter)
    with batched(expected=25):
        for _ in range(25):
            limiter.acquire(key, "100000/second", deadline_at=time.monotonic() + 5)
    assert sum(calls) >= 25 and len(calls) <= 6, calls  # 1, 2, 4, 8, 10 instead of 25 calls
    assert len(_window(limiter, key, "100000/second")) == 25


def test_outside_a_batch_every_acquire_is_its_own_round_trip(settings):
    limiter, key = _limiter(settings), _key("plain")
    calls = _count_reservations(limiter)
    for _ in range(3):
        limiter.acquire(key, "100000/second", deadline_at=time.monotonic() + 5)
    assert calls == []
    assert len(_window(limiter, key, "100000/second")) == 3


def test_slots_reserved_and_not_sent_go_back(settings):
    limiter, key = _limiter(settings), _key("back")
    connection = limiter.storage.get_connection()
    with batched():  # no expected count: the third call reserves 4 (1, 2, then 4)
        for _ in range(4):
            limiter.acquire(key, "50/second", deadline_at=time.monotonic() + 5)
        assert len(_window(limiter, key, "50/second")) == 7
    assert len(_window(limiter, key, "50/second")) == 4  # the 3 unsent are out of the window
    # The pace is back at the first slot given back: the next caller is not pushed behind
    # the slots nobody used.
    step = 1 / 50 * ratelimit.PACE_HEADROOM
    assert float(connection.get(PACE_PREFIX + key)) <= time.time() + 1.5 * step


def test_the_pace_is_left_alone_when_someone_reserved_after_the_batch(settings):
    mine, theirs, key = _limiter(settings), _limiter(settings), _key("after")
    connection = mine.storage.get_connection()
    with batched():
        for _ in range(4):
            mine.acquire(key, "50/second", deadline_at=time.monotonic() + 5)
        theirs.acquire(key, "50/second", deadline_at=time.monotonic() + 5)
        pace = connection.get(PACE_PREFIX + key)
    assert connection.get(PACE_PREFIX + key) == pace
    assert len(_window(mine, key, "50/second")) == 5


def test_a_slot_woken_up_too_late_for_is_not_sent(settings):
    limiter, key = _limiter(settings), _key("late")
    with batched():
        for _ in range(4):  # reserves 1, 2, then 4: 3 slots left after the fourth
            limiter.acquire(key, "100000/second", deadline_at=time.monotonic() + 5)
        time.sleep(0.05)  # longer than the late tolerance (20 ms for a per-second limit)
        before = time.time()
        limiter.acquire(key, "100000/second", deadline_at=time.monotonic() + 5)
    scores = sorted(score for _member, score in _window(limiter, key, "100000/second"))
    assert len(scores) == 5  # four on time, one fresh: the stale three went back
    assert scores[-1] >= before


@pytest.mark.parametrize("limit, amount", [("40/second", 40), ("5/second", 5)])
def test_batches_of_several_threads_and_workers_never_exceed_the_limit(settings, limit, amount):
    key = _key("never")
    workers = [_limiter(settings), _limiter(settings)]
    stamps: list[float] = []
    lock = threading.Lock()
    stop_at = time.time() + 2.2

    def calls(limiter: HostLimiter) -> None:
        while time.time() < stop_at:
            with batched(expected=25):
                for _ in range(25):
                    if time.time() >= stop_at:
                        break
                    limiter.acquire(key, limit, deadline_at=time.monotonic() + 5)
                    with lock:
                        stamps.append(time.time())

    threads = [threading.Thread(target=calls, args=(workers[i % 2],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    stamps.sort()
    busiest = max(bisect.bisect_left(stamps, s + 1.0) - i for i, s in enumerate(stamps))
    assert busiest <= amount, busiest
    assert len(stamps) >= amount * 1.4  # the limit is used, not just respected


def test_a_429_drops_the_slots_this_thread_holds_for_the_key(settings):
    limiter, key = _limiter(settings), _key("cool")
    with batched():
        for _ in range(4):  # reserves 1, 2, then 4: 3 held
            limiter.acquire(key, "100000/second", deadline_at=time.monotonic() + 5)
        limiter.cool_down(key, 30)
        with pytest.raises(RateLimitWait) as caught:
            limiter.acquire(key, "100000/second", deadline_at=time.monotonic() + 1)
    assert caught.value.cooling_down
    assert len(_window(limiter, key, "100000/second")) == 4


def test_another_workers_cooldown_is_seen_at_the_next_reservation(settings):
    mine, theirs, key = _limiter(settings), _limiter(settings), _key("theirs")
    with batched():
        # 4/second paces 260 ms apart, beyond the batch horizon: one slot a reservation.
        mine.acquire(key, "4/second", deadline_at=time.monotonic() + 5)
        theirs.cool_down(key, 30)
        with pytest.raises(RateLimitWait) as caught:
            mine.acquire(key, "4/second", deadline_at=time.monotonic() + 1)
    assert caught.value.cooling_down
    assert mine.storage.get_connection().get(COOLDOWN_PREFIX + key)


def test_a_reservation_never_reaches_past_the_horizon(settings):
    limiter, key = _limiter(settings), _key("horizon")
    calls = _count_reservations(limiter)
    with batched(expected=25):
        for _ in range(6):
            limiter.acquire(key, "20/second", deadline_at=time.monotonic() + 5)
    step = 1 / 20 * ratelimit.PACE_HEADROOM
    assert max(calls) <= 1 + int(ratelimit.BATCH_HORIZON / step)


def test_a_broken_redis_lets_the_batch_through(settings, caplog):
    limiter, key = _limiter(settings), _key("broken")

    def failing(*, keys, args):
        raise ConnectionError("redis is away")

    limiter._reserve_script = failing
    with batched():
        assert limiter.acquire(key, "10/second", deadline_at=time.monotonic() + 1) < 0.5
    assert "not limiting" in caplog.text


def test_the_memory_backend_ignores_batches():
    limiter, key = HostLimiter(MemoryStorage()), _key("memory")
    started = time.monotonic()
    with batched():
        for _ in range(3):
            limiter.acquire(key, "20/second", deadline_at=time.monotonic() + 5)
    assert time.monotonic() - started >= 0.09  # still paced ~52 ms apart


def test_a_nested_block_belongs_to_the_outer_one(settings):
    limiter, key = _limiter(settings), _key("nested")
    with batched():
        limiter.acquire(key, "100000/second", deadline_at=time.monotonic() + 5)
        with batched():
            for _ in range(3):  # reserves 2, then 4: 3 left
                limiter.acquire(key, "100000/second", deadline_at=time.monotonic() + 5)
        # The inner block's end returned nothing: the outer one still holds its slots.
        assert len(_window(limiter, key, "100000/second")) == 7
    assert len(_window(limiter, key, "100000/second")) == 4


def test_a_batch_takes_only_the_room_left_in_the_window(settings):
    limiter, key = _limiter(settings), _key("room")
    item = ratelimit._parse("40/second")
    window = f"{WINDOW_PREFIX}{key}:{item.amount}/{item.get_expiry()}"
    now = time.time()
    # 38 requests of other workers sent just now (pacing alone would not stop a batch here).
    limiter.storage.get_connection().zadd(window, {f"other-{i}": now for i in range(38)})
    with batched(expected=25):
        for _ in range(2):  # asks for 1, then 2: one is all the window has left
            limiter.acquire(key, "40/second", deadline_at=time.monotonic() + 5)
        assert len(_window(limiter, key, "40/second")) == 40
        with pytest.raises(RateLimitWait) as caught:
            limiter.acquire(key, "40/second", deadline_at=time.monotonic() + 0.3)
    assert not caught.value.cooling_down and 0.5 < caught.value.wait <= 1.0
    assert len(_window(limiter, key, "40/second")) == 40
