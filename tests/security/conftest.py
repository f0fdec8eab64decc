"""Security tests run with the real limits (the suite's settings raise them) and, where the
point is state shared by every web process, with the cache on Redis."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache


@pytest.fixture
def real_limits(settings):
    settings.API_THROTTLE_RATES = dict(settings.REAL_API_THROTTLE_RATES)
    settings.LOGIN_FAILURES_PER_ACCOUNT, settings.LOGIN_FAILURES_PER_ADDRESS = (
        settings.REAL_LOGIN_LIMITS
    )
    cache.clear()
    yield settings
    cache.clear()


@pytest.fixture
def redis_cache(settings):
    """The default cache on the test Redis, under a prefix of this test's own."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.TEST_REDIS_URL,
            "KEY_PREFIX": f"sbtest-{uuid.uuid4().hex[:8]}",
        }
    }
    yield settings.CACHES["default"]
    cache.clear()
