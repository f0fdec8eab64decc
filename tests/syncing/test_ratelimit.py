"""The shared per-key rate limit and the cooldown a 429 leaves behind."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from limits.storage import MemoryStorage, RedisStorage

from syncing.fetcher import TransientFetchError, fetch
from syncing.ratelimit import HostLimiter, RateLimitWait, get_limiter, reset_limiter
from tests.support.http import Reply, local_server


@pytest.fixture(autouse=True)
def fresh_limiter(allow_private_urls):
    reset_limiter()
    yield
    reset_limiter()


@pytest.fixture
def redis_limiter(settings):
    """The fetcher's limiter on the test Redis, as in production with REDIS_URL set."""
    settings.REDIS_URL = settings.TEST_REDIS_URL
    reset_limiter()
    limiter = get_limiter()
    assert isinstance(limiter.storage, RedisStorage)
    return limiter


def unique_key(name: str) -> str:
    return f"test-{name}-{uuid.uuid4().hex[:8]}"


def test_memory_storage_without_redis_url(settings):
    settings.REDIS_URL = ""
    assert isinstance(get_limiter().storage, MemoryStorage)


def test_five_fetches_at_two_per_second_are_spread_out():
    key = unique_key("spread")
    with local_server({"/p": Reply(200, b"ok")}) as server:
        started = time.monotonic()
        for _ in range(5):
            fetch(server.url + "/p", rate_limit="2/second", rate_key=key)
        elapsed = time.monotonic() - started
    assert len(server.requests) == 5
    # Moving window: two now, two a second later, the fifth after two seconds.
    assert 1.5 <= elapsed < 3.5


def test_keys_do_not_share_a_window():
    with local_server({"/p": Reply(200, b"ok")}) as server:
        started = time.monotonic()
        for i in range(4):
            fetch(server.url + "/p", rate_limit="1/minute", rate_key=unique_key(f"k{i}"))
    assert time.monotonic() - started < 1


def test_a_slot_past_the_deadline_fails_at_once_as_rate_limited():
    key = unique_key("deadline")
    with local_server({"/p": Reply(200, b"ok")}) as server:
        fetch(server.url + "/p", rate_limit="1/minute", rate_key=key)
        started = time.monotonic()
        with pytest.raises(TransientFetchError) as caught:
            fetch(server.url + "/p", rate_limit="1/minute", rate_key=key, deadline=2)
    assert time.monotonic() - started < 0.5
    assert caught.value.reason == "rate_limited"
    assert 50 <= caught.value.retry_after <= 60
    assert len(server.requests) == 1


def test_429_cooldown_is_seen_by_the_next_caller_of_the_key():
    key = unique_key("cooldown")
    routes = {"/busy": Reply(429, b"", {"Retry-After": "120"}), "/ok": Reply(200, b"ok")}
    with local_server(routes) as server:
        with pytest.raises(TransientFetchError) as first:
            fetch(server.url + "/busy", rate_key=key)
        started = time.monotonic()
        with pytest.raises(TransientFetchError) as second:
            fetch(server.url + "/ok", rate_key=key, deadline=3)
        other_key = fetch(server.url + "/ok", rate_key=unique_key("other"))
    assert first.value.reason == "http_429" and first.value.retry_after == 120
    assert second.value.reason == "rate_limited"
    assert 110 <= second.value.retry_after <= 120
    assert time.monotonic() - started < 0.5
    assert [s.path for s in server.requests] == ["/busy", "/ok"]  # the second call never went
    assert other_key.status == 200


def test_short_cooldown_is_waited_out_by_the_next_caller():
    key = unique_key("short")
    routes = {"/busy": Reply(429, b"", {"Retry-After": "1"}), "/ok": Reply(200, b"ok")}
    with local_server(routes) as server:
        with pytest.raises(TransientFetchError):
            fetch(server.url + "/busy", rate_key=key, retries=0)
        started = time.monotonic()
        result = fetch(server.url + "/ok", rate_key=key)
    assert result.status == 200
    assert time.monotonic() - started >= 0.8


def test_cooldown_keeps_the_later_end_and_is_capped():
    limiter = get_limiter()
    key = unique_key("later")
    limiter.cool_down(key, 30)
    limiter.cool_down(key, 1)
    assert 25 < limiter.cooldown_remaining(key) <= 30
    limiter.cool_down(key, 10**9)
    assert limiter.cooldown_remaining(key) <= 3600


def test_bad_limit_string_is_a_programming_error():
    with pytest.raises(ValueError):
        get_limiter().acquire("k", "lots please", deadline_at=time.monotonic() + 1)


# --- Redis: shared by every worker -------------------------------------------------------
@pytest.mark.redis
def test_redis_window_is_shared_between_workers(redis_limiter, settings):
    key = unique_key("redis-window")
    other_worker = HostLimiter(RedisStorage(settings.TEST_REDIS_URL, key_prefix="syncbeat:limits"))
    deadline = time.monotonic() + 0.3
    redis_limiter.acquire(key, "2/minute", deadline_at=deadline)
    other_worker.acquire(key, "2/minute", deadline_at=deadline)
    with pytest.raises(RateLimitWait) as caught:
        redis_limiter.acquire(key, "2/minute", deadline_at=deadline)
    assert 50 < caught.value.wait <= 60


@pytest.mark.redis
def test_redis_cooldown_is_shared_between_workers(redis_limiter, settings):
    key = unique_key("redis-cooldown")
    other_worker = HostLimiter(RedisStorage(settings.TEST_REDIS_URL, key_prefix="syncbeat:limits"))
    redis_limiter.cool_down(key, 30)
    other_worker.cool_down(key, 2)  # a shorter one does not shorten it
    assert 25 < other_worker.cooldown_remaining(key) <= 30
    with pytest.raises(RateLimitWait) as caught:
        other_worker.acquire(key, "10/second", deadline_at=time.monotonic() + 1)
    assert caught.value.cooling_down


@pytest.mark.redis
def test_fetches_through_redis_are_spread_and_cooled(redis_limiter):
    key = unique_key("redis-fetch")
    routes = {"/p": Reply(200, b"ok"), "/busy": Reply(429, b"", {"Retry-After": "60"})}
    with local_server(routes) as server:
        started = time.monotonic()
        for _ in range(3):
            fetch(server.url + "/p", rate_limit="2/second", rate_key=key)
        assert time.monotonic() - started >= 0.8
        with pytest.raises(TransientFetchError):
            fetch(server.url + "/busy", rate_key=key)
        reset_limiter()  # a fresh process: the cooldown lives in Redis, not in memory
        with pytest.raises(TransientFetchError) as caught:
            fetch(server.url + "/p", rate_key=key, deadline=2)
    assert caught.value.reason == "rate_limited"
    assert len(server.requests) == 4


def test_threads_of_one_worker_share_the_window():
    key = unique_key("threads")
    with local_server({"/p": Reply(200, b"ok")}) as server:
        started = time.monotonic()
        threads = [
            threading.Thread(
                target=fetch,
                args=(server.url + "/p",),
                kwargs={"rate_limit": "2/second", "rate_key": key},
            )
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        elapsed = time.monotonic() - started
    assert len(server.requests) == 4
    assert 0.8 <= elapsed < 3


@pytest.mark.redis
def test_two_workers_calls_are_paced_evenly_never_in_a_burst(redis_limiter, settings):
    """At 20/second, calls from two workers are spread ~51 ms apart, not sent 20 at once at
    the top of the second (a provider's own sliding window would count a burst's jitter)."""
    key = unique_key("paced")
    other_worker = HostLimiter(RedisStorage(settings.TEST_REDIS_URL, key_prefix="syncbeat:limits"))
    stamps: list[float] = []
    lock = threading.Lock()

    def calls(limiter: HostLimiter) -> None:
        for _ in range(6):
            limiter.acquire(key, "20/second", deadline_at=time.monotonic() + 5)
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=calls, args=(lim,)) for lim in (redis_limiter, other_worker)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    stamps.sort()
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert len(stamps) == 12
    assert min(gaps) > 0.035, gaps
    assert stamps[-1] - stamps[0] >= 11 * 0.05


def test_threads_asking_for_the_limiter_at_once_share_one():
    reset_limiter()
    limiters: list[HostLimiter] = []
    barrier = threading.Barrier(8)

    def ask() -> None:
        barrier.wait()
        limiters.append(get_limiter())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len({id(limiter) for limiter in limiters}) == 1


@pytest.mark.redis
def test_an_in_flight_request_outlives_a_shorter_tracked_one(redis_limiter):
    """The window key's expiry never drops below what its longest in-flight request needs:
    a later request with a short deadline must not shorten it, or the key (and the first
    request still in flight with it) expires and the window admits one too many."""
    key = unique_key("ttl")
    long_one = redis_limiter.acquire_request(key, "2/second", deadline_at=time.monotonic() + 30)
    short_one = redis_limiter.acquire_request(key, "2/second", deadline_at=time.monotonic() + 0.7)
    redis_limiter.answered(key, "2/second", short_one)
    time.sleep(4.5)  # past the short request's hold and window, far within the long one's
    redis_limiter.acquire_request(key, "2/second", deadline_at=time.monotonic() + 1)
    with pytest.raises(RateLimitWait):  # the long one still in flight: no third in a window
        redis_limiter.acquire_request(key, "2/second", deadline_at=time.monotonic() + 1)
    assert long_one
