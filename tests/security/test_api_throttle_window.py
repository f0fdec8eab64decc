"""The API throttle's moving window on Redis: one script per request, so requests at the
same moment cannot both take the last slot; and the same window without Redis."""

from __future__ import annotations

import os
import threading
import time
from types import SimpleNamespace

import pytest

from syncing import throttling
from syncing.throttling import PlanApiThrottle
from tests.conftest import make_owner

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]


def allowed(user) -> bool:
    return PlanApiThrottle().allow_request(SimpleNamespace(user=user), None)


def test_requests_at_once_never_pass_more_than_the_allowance(real_limits, redis_cache):
    owner = make_owner("racer@example.com", plan="free")  # 60 a minute
    owner.sync_account  # noqa: B018  read once: the threads need no query
    passed, start = [], threading.Barrier(12)

    def burst():
        start.wait()
        passed.extend(allowed(owner) for _ in range(10))

    threads = [threading.Thread(target=burst) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(passed) == 120
    assert passed.count(True) == 60


def test_the_window_moves_and_the_wait_says_when(real_limits, redis_cache):
    real_limits.API_THROTTLE_RATES["free"] = "3/second"
    owner = make_owner("mover@example.com", plan="free")
    assert [allowed(owner) for _ in range(3)] == [True] * 3
    refused = PlanApiThrottle()
    assert not refused.allow_request(SimpleNamespace(user=owner), None)
    assert 0 < refused.wait() <= 1
    time.sleep(1.05)
    assert allowed(owner)


def test_a_forked_process_shares_the_window_through_its_own_connection(real_limits, redis_cache):
    # The throttle holds a Redis connection per thread; a forked child (a gunicorn worker) must
    # make its own and record members of its own: the parent's and the child's requests all
    # count in one window, and the parent's connection still answers after the fork.
    owner = make_owner("forker@example.com", plan="free")  # 60 a minute
    owner.sync_account  # noqa: B018  read once: the child needs no query
    assert all(allowed(owner) for _ in range(30))
    parent_client, parent_tag = throttling._redis_client(), throttling._MEMBER["tag"]
    pid = os.fork()
    if pid == 0:  # the child: its own socket and tag; 30 more pass, the 61st is refused
        own = throttling._redis_client() is not parent_client
        own = own and throttling._MEMBER["tag"] != parent_tag
        os._exit(0 if own and all(allowed(owner) for _ in range(30)) and not allowed(owner) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not allowed(owner)


def test_a_flushed_script_and_a_dropped_connection_cost_no_request(real_limits, redis_cache):
    # The throttle runs its script straight on its own connection: a server that lost the
    # script (a restart, SCRIPT FLUSH) gets it loaded again, and a connection the server
    # dropped is replaced; every request is still counted once.
    import redis

    owner = make_owner("dropped@example.com", plan="free")  # 60 a minute
    owner.sync_account  # noqa: B018
    assert allowed(owner)
    admin = redis.Redis.from_url(redis_cache["LOCATION"])
    admin.script_flush()
    assert allowed(owner)
    admin.client_kill_filter(_id=throttling._redis_client().client_id())
    assert all(allowed(owner) for _ in range(58))
    assert not allowed(owner)


def test_without_redis_the_window_is_kept_in_the_local_cache(real_limits, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    owner = make_owner("local@example.com", plan="free")
    assert all(allowed(owner) for _ in range(60))
    refused = PlanApiThrottle()
    assert not refused.allow_request(SimpleNamespace(user=owner), None)
    assert 1 <= refused.wait() <= 60
