"""Settings for the test suite.

PostgreSQL and Redis are used when they answer at DATABASE_URL / REDIS_URL or at their usual
local addresses; otherwise the suite runs on SQLite and the tests that need them are skipped
(tests/conftest.py says so in the summary). REQUIRE_SERVICES=1 turns a missing service into
an error instead.
"""

import os
import socket
import tempfile
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/syncbeat"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 0.5
        ):
            return True
    except OSError:
        return False


_pg_url = os.environ.get("DATABASE_URL") or DEFAULT_PG_URL
# The suite's REDIS_URL is handed on as TEST_REDIS_URL to the workers and beats it starts
# (their REDIS_URL is unset below), so that they find the same Redis and broker.
_redis_url = os.environ.get("REDIS_URL") or os.environ.get("TEST_REDIS_URL") or DEFAULT_REDIS_URL
os.environ["TEST_REDIS_URL"] = _redis_url
POSTGRES_AVAILABLE = _pg_url.startswith("postgres") and _answers(_pg_url, 5432)
REDIS_AVAILABLE = _answers(_redis_url, 6379)
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "") in ("1", "true", "yes")
if REQUIRE_SERVICES and not (POSTGRES_AVAILABLE and REDIS_AVAILABLE):
    missing = [
        n for n, ok in (("PostgreSQL", POSTGRES_AVAILABLE), ("Redis", REDIS_AVAILABLE)) if not ok
    ]
    raise ImproperlyConfigured(f"REQUIRE_SERVICES=1 but {' and '.join(missing)} did not answer")

# Tests keep their own files apart from a developer's var/.
os.environ.setdefault("SYNCBEAT_VAR_DIR", tempfile.mkdtemp(prefix="syncbeat-test-"))
os.environ["DATABASE_URL"] = (
    _pg_url
    if POSTGRES_AVAILABLE
    else "sqlite:///" + os.path.join(os.environ["SYNCBEAT_VAR_DIR"], "test.sqlite3")
)
# The REDIS_URL the app sees stays unset: the suite runs with the embedded defaults
# (local-memory cache and limits); tests that need Redis ask for it explicitly.
# TEST_APP_REDIS=1 (set by tests/support/worker.py for a child that needs it) gives the app
# the suite's Redis: worker heartbeats and the beat lock, when the broker is not Redis.
os.environ.pop("REDIS_URL", None)
if os.environ.get("TEST_APP_REDIS") == "1":
    os.environ["REDIS_URL"] = _redis_url
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("ALLOW_PRIVATE_URLS", "false")
os.environ["DATABASE_POOL"] = "false"
# Tests that start a real worker share a broker with it: Redis (database 15) when it
# answers, else the filesystem transport under the test's own directory.
# TEST_BROKER_DB lets two suites share one Redis without taking each other's messages.
# TEST_BROKER=rabbitmq runs them on RabbitMQ instead (TEST_AMQP_URL; give each suite a
# vhost of its own), on quorum queues as production declares them
# (TEST_RABBITMQ_QUEUE_TYPE=classic for the other type): `pytest -m broker` is that run.
TEST_BROKER = os.environ.get("TEST_BROKER", "") or ("redis" if REDIS_AVAILABLE else "filesystem")
TEST_AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
_broker_db = os.environ.get("TEST_BROKER_DB", "15")
if TEST_BROKER == "rabbitmq":
    if not _answers(TEST_AMQP_URL, 5672):
        raise ImproperlyConfigured(f"TEST_BROKER=rabbitmq but nothing answers at {TEST_AMQP_URL}")
    TEST_BROKER_URL = TEST_AMQP_URL
    os.environ["CELERY_RABBITMQ_QUEUE_TYPE"] = os.environ.get("TEST_RABBITMQ_QUEUE_TYPE", "quorum")
elif TEST_BROKER == "redis" and REDIS_AVAILABLE:
    TEST_BROKER_URL = urlsplit(_redis_url)._replace(path=f"/{_broker_db}").geturl()
elif TEST_BROKER in ("redis", "filesystem"):
    TEST_BROKER_URL = "filesystem://"
else:
    raise ImproperlyConfigured(
        f"TEST_BROKER: expected redis, rabbitmq or filesystem: {TEST_BROKER}"
    )
os.environ["CELERY_BROKER_URL"] = TEST_BROKER_URL

from config.settings import *  # noqa: E402,F403

TEST_REDIS_URL = _redis_url if REDIS_AVAILABLE else ""
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_TASK_ALWAYS_EAGER = False
FETCH_RETRY_MAX_WAIT = 2.0
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
# Throttles: the suite makes many requests and logins from one address; the throttle tests
# (tests/security) put the real limits back from REAL_*.
REAL_API_THROTTLE_RATES = dict(API_THROTTLE_RATES)  # noqa: F405
REAL_LOGIN_LIMITS = (LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURES_PER_ADDRESS)  # noqa: F405
API_THROTTLE_RATES = dict.fromkeys(REAL_API_THROTTLE_RATES, "100000/minute")
LOGIN_FAILURES_PER_ACCOUNT = LOGIN_FAILURES_PER_ADDRESS = 1000
ACCOUNT_REQUESTS_PER_ADDRESS = "100000/minute"  # tests of the limit set their own
# On SQLite the test database is a file, as in production, not Django's shared-cache memory
# database: threads then wait for each other's writes (busy timeout) instead of failing with
# "database table is locked", and processes the suite starts (gunicorn, workers) open it.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(os.environ["SYNCBEAT_VAR_DIR"], "test-database.sqlite3")
    }
