"""Reads from a streaming replica (``DATABASE_REPLICA_URL``, the ``replica`` database alias).

Only the safe requests of the views that opted in read from the replica: owner pages and
dashboards named in ``REPLICA_READ_VIEWS``, and every DRF API view's GET/HEAD/OPTIONS.
Everything else reads the primary: workers and beat (no request at all), unsafe methods,
anything inside ``transaction.atomic``, ``select_for_update`` and other reads made for a
write, sessions, users and API tokens (a login must be seen at once), and the views of
``REPLICA_PRIMARY_VIEWS`` (the export feed records what it served; audio links are fresh).

Read-your-writes: after an unsafe request by a signed-in user (a login included), that
user's reads stay on the primary for ``REPLICA_STICKY_SECONDS``. The mark lives in the
cache (Redis in production), keyed by user: API clients keep no cookies, and a write made
on one device is then seen from the user's other devices too.

A replica that is down, promoted, or whose replay is more than ``REPLICA_MAX_LAG_SECONDS``
behind is not used; its state is checked at most every ``REPLICA_CHECK_SECONDS`` per
process. A safe view whose replica query fails is run again on the primary (a safe method
may run twice), so a replica that dies between two checks costs no error page.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import MiddlewareNotUsed
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)

REPLICA = "replica"
PRIMARY = "default"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Rows a request must see as soon as they are written: sign-in, sessions, tokens; beat's
# schedule; contenttypes and admin are read for writes.
PRIMARY_ONLY_APPS = frozenset(
    {"auth", "sessions", "knox", "contenttypes", "admin", "django_celery_beat"}
)
STICKY_KEY = "replica-sticky:{}"
# Lag as the replica sees it: 0 while it has replayed all it received from a connected
# primary, else the age of the last transaction it replayed. Any role may run it (without
# pg_read_all_stats, pg_stat_wal_receiver shows only the receiver's pid, not its status).
# The replica's lag behind the primary: none when it has replayed everything the primary had
# written when the check began (%s: the primary's pg_current_wal_lsn()); otherwise the age
# of its last replayed transaction. Having replayed all it *received* is not enough: a
# replica that is slow to receive (a slow link, a backed-up sender) would look current.
LAG_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN pg_wal_lsn_diff(pg_last_wal_replay_lsn(), %s::pg_lsn) >= 0 THEN 0
            ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 1e9)
       END
"""
PRIMARY_LSN_SQL = "SELECT pg_current_wal_lsn()::text"


@dataclass
class ReadScope:
    """One request's permission to read from the replica, decided at its first read."""

    request: HttpRequest | None = None
    decision: bool | None = None
    deciding: bool = False
    used_replica: bool = False
    view: tuple | None = field(default=None, repr=False)


_scope: ContextVar[ReadScope | None] = ContextVar("syncbeat_replica_scope", default=None)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


# --- the replica's state -------------------------------------------------------------------


@dataclass
class ReplicaState:
    usable: bool
    reason: str
    lag_seconds: float | None
    checked_at: float


_state: ReplicaState | None = None
_state_lock = threading.Lock()


def replica_state(*, fresh: bool = False) -> ReplicaState:
    """Whether reads may go to the replica now (cached ``REPLICA_CHECK_SECONDS``)."""
    global _state
    if not fresh and _is_current(_state):
        return _state
    with _state_lock:  # one check at a time; the threads that waited take its answer
        if not fresh and _is_current(_state):
            return _state
        state = _check_replica()
        _state = state
    if not state.usable:
        log.warning("replica not used for reads: %s", state.reason)
    return state


def _is_current(state: ReplicaState | None) -> bool:
    if state is None:
        return False
    return time.monotonic() - state.checked_at < settings.REPLICA_CHECK_SECONDS


def mark_replica_down(reason: str) -> None:
    global _state
    _state = ReplicaState(False, reason, None, time.monotonic())
    log.warning("replica not used for reads: %s", reason)


def forget_replica_state() -> None:
    global _state
    _state = None


def _check_replica() -> ReplicaState:
    now = time.monotonic()
    with connections["default"].cursor() as cursor:
        cursor.execute(PRIMARY_LSN_SQL)
        (primary_lsn,) = cursor.fetchone()
    connection = connections[REPLICA]
    try:
        with connection.cursor() as cursor:
            cursor.execute(LAG_SQL, [primary_lsn])
            in_recovery, lag = cursor.fetchone()
    except DatabaseError as exc:
        _close_quietly(connection)
        return ReplicaState(False, f"cannot query the replica: {exc}".strip(), None, now)
    lag = float(lag)
    if not in_recovery:
        return ReplicaState(False, "the replica is not in recovery (promoted?)", None, now)
    if lag > settings.REPLICA_MAX_LAG_SECONDS:
        reason = f"replay {lag:.1f} s behind (> {settings.REPLICA_MAX_LAG_SECONDS} s)"
        return ReplicaState(False, reason, lag, now)
    return ReplicaState(True, "ok", lag, now)


def _close_quietly(connection) -> None:
    try:
        connection.close()
    except DatabaseError:
        pass


# --- read-your-writes ------------------------------------------------------------------------


def mark_sticky(user_pk: int) -> None:
    """The user just wrote: their reads stay on the primary for a while."""
    seconds = settings.REPLICA_STICKY_SECONDS
    if seconds <= 0:
        return
    try:
        cache.set(STICKY_KEY.format(user_pk), 1, timeout=seconds)
    except Exception:  # a cache outage must not fail the write that already happened
        log.warning("could not mark user %s sticky to the primary", user_pk, exc_info=True)


def is_sticky(user_pk: int) -> bool:
    if settings.REPLICA_STICKY_SECONDS <= 0:
        return False
    try:
        return bool(cache.get(STICKY_KEY.format(user_pk)))
    except Exception:  # unknown: the primary is always right
        return True


# --- scopes ------------------------------------------------------------------------------------


@contextlib.contextmanager
def replica_reads(request: HttpRequest | None = None) -> Iterator[ReadScope]:
    """Reads inside may go to the replica (subject to the rules above)."""
    scope = ReadScope(request=request)
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


@contextlib.contextmanager
def primary_reads() -> Iterator[None]:
    """Reads inside go to the primary, whatever the enclosing scope."""
    token = _scope.set(None)
    try:
        yield
    finally:
        _scope.reset(token)


def _decide(scope: ReadScope) -> bool:
    if scope.decision is not None:
        return scope.decision
    scope.deciding = True
    try:
        user = getattr(scope.request, "user", None) if scope.request is not None else None
        user_pk = user.pk if user is not None and user.is_authenticated else None
        sticky = user_pk is not None and is_sticky(user_pk)
        decision = not sticky and replica_state().usable
    finally:
        scope.deciding = False
    # An anonymous user may still become one (DRF authenticates inside the view): decide again.
    if user_pk is not None or not decision:
        scope.decision = decision
    return decision


class ReplicaRouter:
    """DATABASE_ROUTERS entry: writes to the primary, reads as the request's scope allows."""

    def db_for_read(self, model, **hints):
        if model._meta.app_label in PRIMARY_ONLY_APPS:
            return PRIMARY
        scope = _scope.get()
        if scope is None or scope.deciding or connections[PRIMARY].in_atomic_block:
            return PRIMARY
        if not _decide(scope):
            return PRIMARY
        scope.used_replica = True
        return REPLICA

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        if {obj1._state.db, obj2._state.db} <= {PRIMARY, REPLICA, None}:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return False if db == REPLICA else None


# --- the web side ---------------------------------------------------------------------------


def view_reads_replica(request: HttpRequest, view_func) -> bool:
    """Whether this request's reads may go to the replica: a safe method, and the view an
    API view or one named in REPLICA_READ_VIEWS (and not in REPLICA_PRIMARY_VIEWS)."""
    if request.method not in SAFE_METHODS:
        return False
    match = request.resolver_match
    name = match.view_name if match else ""
    if name in settings.REPLICA_PRIMARY_VIEWS:
        return False
    cls = getattr(view_func, "cls", None)
    if cls is not None:
        from rest_framework.views import APIView

        if isinstance(cls, type) and issubclass(cls, APIView):
            return True
    for pattern in settings.REPLICA_READ_VIEWS:
        if name == pattern or (pattern.endswith(":*") and name.startswith(pattern[:-1])):
            return True
    return False


class ReplicaReadsMiddleware:
    """Opens the replica scope for the views that opted in; marks writers sticky.

    Goes after AuthenticationMiddleware. Not loaded at all without DATABASE_REPLICA_URL."""

    def __init__(self, get_response):
        if not replica_configured():
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        scope = ReadScope(request=request, decision=False)
        token = _scope.set(scope)
        try:
            return self.get_response(request)
        finally:
            _scope.reset(token)
            if request.method not in SAFE_METHODS:
                user = getattr(request, "user", None)
                if user is not None and user.is_authenticated:
                    mark_sticky(user.pk)

    def process_view(self, request, view_func, view_args, view_kwargs):
        scope = _scope.get()
        if scope is not None and view_reads_replica(request, view_func):
            scope.decision = None
            scope.view = (view_func, view_args, view_kwargs)
        return None

    def process_exception(self, request, exception):
        scope = _scope.get()
        if (
            scope is None
            or not scope.used_replica
            or scope.view is None
            or not isinstance(exception, (OperationalError, InterfaceError))
            or not connections[REPLICA].errors_occurred  # the primary failed: not ours
        ):
            return None
        mark_replica_down(f"a read failed: {exception}".strip())
        _close_quietly(connections[REPLICA])
        scope.decision, scope.used_replica = False, False
        view_func, args, kwargs = scope.view
        scope.view = None
        response = view_func(request, *args, **kwargs)
        if hasattr(response, "render") and not getattr(response, "is_rendered", True):
            response = response.render()
        return response


def _task_started(task_id=None, **kwargs) -> None:
    # An eager task run inside a request is a worker's code: its reads go to the primary.
    _task_tokens[task_id] = _scope.set(None)


def _task_finished(task_id=None, **kwargs) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        with contextlib.suppress(ValueError):
            _scope.reset(token)


_task_tokens: dict = {}


def _connect_task_signals() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_started, weak=False, dispatch_uid="syncbeat-replica-prerun")
    task_postrun.connect(_task_finished, weak=False, dispatch_uid="syncbeat-replica-postrun")


_connect_task_signals()
