"""Django settings for Syncbeat.

Everything that differs between a first run and production is read from the environment
here, through the typed readers in ``config.env`` (a bad value stops start-up with the
variable's name). README.md and .env.example list every variable with its default.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.databases import pooler_mode, primary_database, replica_database
from config.env import (
    env_bool,
    env_db,
    env_float,
    env_int,
    env_list,
    env_str,
    env_url,
)
from config.openapi import OPENAPI_SETTINGS

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SYNCBEAT_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- core -------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY", "")
    if key:
        return key
    # Embedded first run: a random key kept under var/, so sessions survive restarts
    # without anybody having to invent a secret. Production sets SECRET_KEY.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
if len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY: must be at least 32 characters long")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # Without autodiscovery: config/urls.py imports the apps' admin modules, so workers,
    # which never serve the admin, do not load them (1.2 MB of every worker).
    "django.contrib.admin.apps.SimpleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_celery_beat",
    "syncing",
    "calendars",
    "alarms",
    "market",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RefuseControlCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Only with DATABASE_REPLICA_URL: which reads may go to the replica (syncing.replica).
    "syncing.replica.ReplicaReadsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "syncing.localtime.BrowserTimeZoneMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database ---------------------------------------------------------------------------
# DATABASE_POOLER=transaction: DATABASE_URL points at PgBouncer in pool_mode=transaction
# (config.databases: no psycopg pool, no server-side cursors, no prepared statements; the
# engine's leases and beat lock keep no session state; README, "PgBouncer").
DATABASE_POOLER = pooler_mode(env_str("DATABASE_POOLER", ""))
DATABASES = {
    "default": primary_database(
        env_db("DATABASE_URL", f"sqlite:///{VAR_DIR / 'syncbeat.sqlite3'}"),
        pooler=DATABASE_POOLER,
        pool=env_bool("DATABASE_POOL", True),
        pool_min_size=env_int("DATABASE_POOL_MIN_SIZE", 1, minimum=0),
        pool_max_size=env_int("DATABASE_POOL_MAX_SIZE", 10, minimum=1),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 300, minimum=0),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- read replica ---------------------------------------------------------------------------
# DATABASE_REPLICA_URL: a streaming replica of DATABASE_URL. Safe requests of owner pages, the
# API and the dashboards read from it; everything else uses the primary (syncing.replica).
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL", "")
# After a user writes (or logs in), their reads stay on the primary this long.
REPLICA_STICKY_SECONDS = env_int("REPLICA_STICKY_SECONDS", 10, minimum=0)
# Replay further behind than this, a replica down or promoted: reads go to the primary.
REPLICA_MAX_LAG_SECONDS = env_float("REPLICA_MAX_LAG_SECONDS", 5.0, minimum=0.0)
# How long one process trusts one check of the replica's state.
REPLICA_CHECK_SECONDS = env_float("REPLICA_CHECK_SECONDS", 2.0, minimum=0.0)
REPLICA_CONNECT_TIMEOUT = env_int("REPLICA_CONNECT_TIMEOUT", 2, minimum=1)
# URL names whose GET/HEAD may read from the replica ("app:*": a whole namespace); every API
# view's safe methods do too. REPLICA_PRIMARY_VIEWS win: the export feed records what it
# served (a write), and an audio link is asked for right after its briefing was made.
REPLICA_READ_VIEWS = [
    "dashboard",
    "owner-status",
    "sync-dashboard",
    "metrics",
    "calendars:*",
    "alarms:*",
    "market:*",
]
REPLICA_PRIMARY_VIEWS = ["calendars:export", "alarms:audio"]
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = replica_database(
        DATABASES["default"],
        env_db("DATABASE_REPLICA_URL", ""),
        connect_timeout=REPLICA_CONNECT_TIMEOUT,
    )
    DATABASE_ROUTERS = ["syncing.replica.ReplicaRouter"]

# --- cache, redis -----------------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", "", schemes=("redis", "rediss", "unix"))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "syncbeat",
            # A cache that stops answering fails a request in seconds instead of hanging it.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- auth -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["syncing.auth.EmailBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
# Owners may create their own account (free plan) at /signup/; false: staff create them.
SIGNUP_ENABLED = env_bool("SIGNUP_ENABLED", True)
# Sign-ups and password-reset emails asked for from one address (syncing.accounts).
ACCOUNT_REQUESTS_PER_ADDRESS = env_str("ACCOUNT_REQUESTS_PER_ADDRESS", "10/hour")
if not re.fullmatch(r"[1-9][0-9]*/(second|minute|hour|day)", ACCOUNT_REQUESTS_PER_ADDRESS):
    raise ImproperlyConfigured(
        "ACCOUNT_REQUESTS_PER_ADDRESS: expected N/second, minute, hour or day, "
        f"got {ACCOUNT_REQUESTS_PER_ADDRESS!r}"
    )
# Failed logins (login page, admin, API) within a window that starts with the first failure:
# past either limit, that account or address waits until the window ends (syncing.throttling).
LOGIN_FAILURES_PER_ACCOUNT = env_int("LOGIN_FAILURES_PER_ACCOUNT", 5, minimum=1)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 20, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900, minimum=1)
# Reverse proxies in front of the web process (addresses or networks): X-Forwarded-For is
# read only from these (syncing.clientip). Empty: REMOTE_ADDR is the client.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy.strip(), strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: not an address or network: {_proxy!r}")

# --- i18n, static, media ----------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "templates" / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- email ------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Syncbeat <noreply@syncbeat.local>")

# --- security headers -------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# HTTPS_ONLY=true: the one switch for a deployment served over HTTPS (behind a proxy that
# terminates TLS and sets X-Forwarded-Proto): secure cookies, HSTS, redirect to https.
HTTPS_ONLY = env_bool("HTTPS_ONLY", False)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", HTTPS_ONLY)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if HTTPS_ONLY:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", True)
    # "preload" only makes the site eligible for the browsers' list (submitting is manual).
    SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", True)
    # /healthz is probed by load balancers over plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "syncing.token_auth.TokenAuthentication",  # knox's, with the owner's plan joined
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "syncing.throttling.AnonymousThrottledFirst",
        "rest_framework.permissions.IsAuthenticated",
    ],
    "DEFAULT_PAGINATION_CLASS": "syncing.pagination.PageOrCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["syncing.filtering.StrictFilterBackend"],
    "DEFAULT_PARSER_CLASSES": [
        "syncing.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "syncing.throttling.AnonApiThrottle",
        "syncing.throttling.PlanApiThrottle",
    ],
    "DEFAULT_SCHEMA_CLASS": "syncing.schema.TaggedAutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# API requests per owner by plan, and per address without credentials (429 + Retry-After).
API_THROTTLE_RATES = {
    "anon": env_str("API_THROTTLE_ANON", "30/minute"),
    "free": env_str("API_THROTTLE_FREE", "60/minute"),
    "starter": env_str("API_THROTTLE_STARTER", "120/minute"),
    "pro": env_str("API_THROTTLE_PRO", "300/minute"),
    "business": env_str("API_THROTTLE_BUSINESS", "600/minute"),
    "realtime": env_str("API_THROTTLE_REALTIME", "1200/minute"),
}
for _scope, _rate in API_THROTTLE_RATES.items():
    if not re.fullmatch(r"[1-9][0-9]*/(second|minute|hour|day)", _rate):
        raise ImproperlyConfigured(
            f"API_THROTTLE_{_scope.upper()}: expected N/second, minute, hour or day, got {_rate!r}"
        )
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env_int("API_TOKEN_TTL_DAYS", 365, minimum=1)),
    "AUTO_REFRESH": False,
    "TOKEN_PREFIX": "sb_",
}
# The OpenAPI document and its pages: config/openapi.py.
SPECTACULAR_SETTINGS = OPENAPI_SETTINGS

# --- Celery -----------------------------------------------------------------------------
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL", "filesystem://", schemes=("filesystem", "redis", "rediss", "amqp")
)
BROKER_DIR = VAR_DIR / "broker"
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 7200, minimum=60)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 1800, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 1500, minimum=5)
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_TASK_SOFT_TIME_LIMIT: must be below CELERY_TASK_TIME_LIMIT")
if CELERY_TASK_TIME_LIMIT >= CELERY_VISIBILITY_TIMEOUT:
    # A task still running when the visibility timeout passes is delivered a second time.
    raise ImproperlyConfigured("CELERY_VISIBILITY_TIMEOUT: must exceed CELERY_TASK_TIME_LIMIT")
if CELERY_BROKER_URL.startswith("filesystem"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Every folder under var/ (kombu's default control folder is ./control).
        "control_folder": str(BROKER_DIR / "control"),
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith("amqp"):
    # RabbitMQ: publishes confirmed by the broker; priorities and queue types: syncing.brokers.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        # Honour task priorities on Redis (urgent alarms, on-demand syncs).
        "queue_order_strategy": "priority",
        "priority_steps": list(range(10)),
        "sep": ":",
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"syncing.dispatch": {"queue": "dispatch"}}
# Queues a worker consumes when started from the Procfile.
CELERY_QUEUES_ALL = "dispatch,urgent,io,cpu,default"
# RabbitMQ queue type: classic (x-max-priority 9: priorities on every queue) or quorum
# (replicated; priorities only on RabbitMQ 4+, urgent work keeps its own queue).
CELERY_RABBITMQ_QUEUE_TYPE = env_str("CELERY_RABBITMQ_QUEUE_TYPE", "classic")
if CELERY_RABBITMQ_QUEUE_TYPE not in ("classic", "quorum"):
    raise ImproperlyConfigured("CELERY_RABBITMQ_QUEUE_TYPE: expected classic or quorum")
if CELERY_BROKER_URL.startswith("amqp"):
    from syncing.brokers import MAX_PRIORITY, rabbitmq_queues

    CELERY_TASK_QUEUES = rabbitmq_queues(CELERY_QUEUES_ALL.split(","), CELERY_RABBITMQ_QUEUE_TYPE)
    CELERY_TASK_CREATE_MISSING_QUEUE_TYPE = CELERY_RABBITMQ_QUEUE_TYPE
    if CELERY_RABBITMQ_QUEUE_TYPE == "classic":
        CELERY_TASK_QUEUE_MAX_PRIORITY = MAX_PRIORITY
CELERY_TASK_TIME_LIMIT_SECONDS = CELERY_TASK_TIME_LIMIT
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Exactly one beat (syncing.beatlock): auto = a PostgreSQL advisory lock, else a Redis lock
# with a TTL, else a file lock under var/; a second beat waits until the first one stops.
BEAT_LOCK = env_str("BEAT_LOCK", "auto")
if BEAT_LOCK not in ("auto", "postgres", "redis", "file", "off"):
    raise ImproperlyConfigured("BEAT_LOCK: expected auto, postgres, redis, file or off")
if BEAT_LOCK == "postgres" and DATABASE_POOLER == "transaction":
    raise ImproperlyConfigured(
        "BEAT_LOCK=postgres holds a session advisory lock, which PgBouncer in transaction "
        "mode cannot keep (DATABASE_POOLER=transaction): use BEAT_LOCK=redis or auto"
    )
BEAT_LOCK_TTL_SECONDS = env_float("BEAT_LOCK_TTL_SECONDS", 30.0, minimum=1.0)
BEAT_LOCK_RETRY_SECONDS = env_float("BEAT_LOCK_RETRY_SECONDS", 5.0, minimum=0.1)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"

# --- the engine's knobs -----------------------------------------------------------------
# Seconds a claimed item stays leased. Short, because a running chunk renews the leases of
# its items as it goes (syncing.services.leases): a dead worker's items are due again
# within about a minute. Must exceed 1.5 x FETCH_DEADLINE (system check syncing.E002).
SYNC_LEASE_SECONDS = env_int("SYNC_LEASE_SECONDS", 60, minimum=2)
SYNC_BACKOFF_BASE_SECONDS = env_int("SYNC_BACKOFF_BASE_SECONDS", 60, minimum=1)
SYNC_BACKOFF_CAP_SECONDS = env_int("SYNC_BACKOFF_CAP_SECONDS", 6 * 3600, minimum=1)
SYNC_PAUSE_AFTER_FAILURES = env_int("SYNC_PAUSE_AFTER_FAILURES", 10, minimum=1)
SYNC_ATTEMPT_RETENTION_DAYS = env_int("SYNC_ATTEMPT_RETENTION_DAYS", 7, minimum=1)
# PostgreSQL keeps attempts in daily partitions; the hourly prune makes this many days'
# partitions ahead (a DEFAULT partition catches anything else) and drops the expired days.
SYNC_ATTEMPT_PARTITION_DAYS_AHEAD = env_int("SYNC_ATTEMPT_PARTITION_DAYS_AHEAD", 3, minimum=1)
SYNC_DISPATCH_EXPIRES_RATIO = env_float("SYNC_DISPATCH_EXPIRES_RATIO", 0.9, minimum=0.1)

# The fetcher: the one way out to the network.
ALLOW_PRIVATE_URLS = env_bool("ALLOW_PRIVATE_URLS", False)
FETCH_CONNECT_TIMEOUT = env_float("FETCH_CONNECT_TIMEOUT", 5.0, minimum=0.1)
FETCH_READ_TIMEOUT = env_float("FETCH_READ_TIMEOUT", 20.0, minimum=0.1)
FETCH_DEADLINE = env_float("FETCH_DEADLINE", 30.0, minimum=0.5)
FETCH_MAX_BYTES = env_int("FETCH_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
FETCH_MAX_REDIRECTS = env_int("FETCH_MAX_REDIRECTS", 3, minimum=0)
FETCH_RETRIES = env_int("FETCH_RETRIES", 2, minimum=0)
FETCH_RETRY_MAX_WAIT = env_float("FETCH_RETRY_MAX_WAIT", 5.0, minimum=0)
FETCH_HOST_RATE_LIMIT = env_str("FETCH_HOST_RATE_LIMIT", "20/second")
FETCH_USER_AGENT = env_str("FETCH_USER_AGENT", "Syncbeat/1.0 (+https://syncbeat.example)")

# --- watching the engine ----------------------------------------------------------------
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"])
# Seconds each /healthz check (database, broker, cache) may take before it answers "down".
HEALTH_CHECK_TIMEOUT = env_float("HEALTH_CHECK_TIMEOUT", 2.0, minimum=0.1)
ALERT_WEBHOOK_URL = env_str("ALERT_WEBHOOK_URL", "")
# Webhook deliveries to one destination host, whichever endpoints point there (shared).
WEBHOOK_HOST_RATE_LIMIT = env_str("WEBHOOK_HOST_RATE_LIMIT", "5/second")
WEBHOOK_RETRY_SECONDS = env_int("WEBHOOK_RETRY_SECONDS", 86400, minimum=60)
WEBHOOK_DISABLE_AFTER_SECONDS = env_int("WEBHOOK_DISABLE_AFTER_SECONDS", 86400, minimum=60)
SYNC_ROLLUP_RETENTION_DAYS = env_int("SYNC_ROLLUP_RETENTION_DAYS", 400, minimum=31)

# --- domain apps ----------------------------------------------------------------------
# Where the demo's feeds come from (the feed farm `make run` starts).
FEEDFARM_URL = env_str("FEEDFARM_URL", "http://127.0.0.1:8200")
# After "New export link" the old link keeps answering for this many days (channels still
# poll it until the owner pastes the new one everywhere).
EXPORT_LINK_GRACE_DAYS = env_int("EXPORT_LINK_GRACE_DAYS", 7, minimum=0)
# Events that ended more than this many days ago move to the archive (calendars.ArchivedEvent,
# daily). At least 31: the import, conflicts, echoes and the export read the last 30 days.
CALENDAR_ARCHIVE_AFTER_DAYS = env_int("CALENDAR_ARCHIVE_AFTER_DAYS", 183, minimum=31)

# Market-data providers: JSON object of name -> {client: stockx|generic_json, base_url,
# api_key, token, rate_limit, allow_loopback}. Empty: the two simulator providers of the demo.
MARKET_PROVIDERS = env_str("MARKET_PROVIDERS", "")
# Price snapshots (market.services.downsample, daily): every sync's snapshot is kept this
# many days (demand rules read the last 72 hours), then the last of each hour until
# MARKET_SNAPSHOT_DAILY_AFTER_DAYS, then the last of each day. The daily run looks this
# many days behind each boundary (0: the whole history, once after a deploy or an outage).
MARKET_SNAPSHOT_HOURLY_AFTER_DAYS = env_int("MARKET_SNAPSHOT_HOURLY_AFTER_DAYS", 3, minimum=3)
MARKET_SNAPSHOT_DAILY_AFTER_DAYS = env_int("MARKET_SNAPSHOT_DAILY_AFTER_DAYS", 30, minimum=4)
MARKET_SNAPSHOT_LOOKBACK_DAYS = env_int("MARKET_SNAPSHOT_LOOKBACK_DAYS", 7, minimum=0)

# Alarms: text to speech (auto = espeak-ng when installed, else the built-in chime).
ALARMS_TTS_ENGINE = env_str("ALARMS_TTS_ENGINE", "auto")
if ALARMS_TTS_ENGINE not in ("auto", "espeak", "speech-api", "tone"):
    raise ImproperlyConfigured(
        f"ALARMS_TTS_ENGINE: expected auto, espeak, speech-api or tone, got {ALARMS_TTS_ENGINE!r}"
    )
SPEECH_API_BASE_URL = env_str("SPEECH_API_BASE_URL", "")
SPEECH_API_KEY = env_str("SPEECH_API_KEY", "")
SPEECH_API_MODEL = env_str("SPEECH_API_MODEL", "tts-1")
SPEECH_API_VOICE = env_str("SPEECH_API_VOICE", "alloy")
SPEECH_API_RATE_LIMIT = env_str("SPEECH_API_RATE_LIMIT", "50/second")
SPEECH_API_DEADLINE = env_float("SPEECH_API_DEADLINE", 60.0, minimum=1.0)
ALARMS_ESPEAK_TIMEOUT = env_float("ALARMS_ESPEAK_TIMEOUT", 30.0, minimum=1.0)
ALARMS_AUDIO_TTL_HOURS = env_int("ALARMS_AUDIO_TTL_HOURS", 48, minimum=1)
ALARMS_AUDIO_URL_MAX_AGE = env_int("ALARMS_AUDIO_URL_MAX_AGE", 3600, minimum=60)
# mp3 (default) or wav: WAV briefings are joined from sections shared across owners.
SPEECH_API_FORMAT = env_str("SPEECH_API_FORMAT", "mp3")
if SPEECH_API_FORMAT not in ("mp3", "wav"):
    raise ImproperlyConfigured(f"SPEECH_API_FORMAT: expected mp3 or wav, got {SPEECH_API_FORMAT!r}")
# Daily budget per speech engine (JSON, see alarms.services.budget), e.g.
# {"speech-api": {"characters": 2000000, "requests": 50000, "cost_per_million": 15}}.
ALARMS_SPEECH_BUDGETS = env_str("ALARMS_SPEECH_BUDGETS", "")
# Past this share of a budget, briefings fall back to the next engine (espeak-ng, the chime).
ALARMS_SPEECH_BUDGET_PERCENT = env_float("ALARMS_SPEECH_BUDGET_PERCENT", 90.0, minimum=1.0)
# A simulated clock for the alarms ("<real epoch>,<simulated epoch>,<speed>", see
# alarms.services.clock): set only by benchmarks and tests, never in a deployment.
ALARMS_FAKE_CLOCK = ""

# --- errors, logging --------------------------------------------------------------------
SENTRY_DSN = env_str("SENTRY_DSN", "")
if SENTRY_DSN:
    # Headers, secret-looking keys, URL secrets and connection strings are scrubbed.
    from syncing.sentry import init_sentry

    init_sentry(
        SENTRY_DSN,
        traces_sample_rate=env_float("SENTRY_TRACES_SAMPLE_RATE", 0.0, minimum=0.0),
    )

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Export-feed and signed audio tokens never reach a log line (syncing.redaction).
    "filters": {"redact_secrets": {"()": "syncing.redaction.RedactSecretsFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": "INFO"},
        # urllib3 at DEBUG logs request lines with query strings, which may carry API keys.
        "urllib3": {"level": "INFO"},
    },
}
if CELERY_BROKER_URL.startswith("filesystem"):
    # The file broker's URL has no host, by design: kombu warns so on every connection.
    LOGGING["loggers"]["kombu.connection"] = {"level": "ERROR"}
