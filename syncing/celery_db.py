"""Database connections in Celery workers: kept from task to task, like a web request's.

Celery's Django fixup closes every database connection before and after each task, so a
worker opened a new PostgreSQL session (fork of a backend, authentication, ~2-5 ms of server
CPU) for nearly every chunk: 951 sessions for 9,500 syncs in the feeds bench. Django's own
rule for web requests is better: keep the connection until it is older than
``CONN_MAX_AGE`` or has failed, and ping it (``CONN_HEALTH_CHECKS``) before its first use in
the next request. :func:`keep_connections` applies that rule to tasks instead.

A dead connection (PostgreSQL restarted, a failover, an idle timeout) is still recovered: the
health check at the first query of the next task replaces it, and the engine closes the
connection itself when a chunk hits a database error (syncing.services.runs).
"""

from __future__ import annotations

from typing import Any

from celery import Celery, signals
from django.db import close_old_connections

# The fixup still closes connections every this many tasks (Celery's CELERY_DB_REUSE_MAX):
# high enough never to matter, since CONN_MAX_AGE recycles connections by age already.
REUSE_MAX_TASKS = 1_000_000


def keep_connections(app: Celery) -> None:
    """Keep workers' database connections across tasks (call once where ``app`` is built)."""
    app.conf.update(CELERY_DB_REUSE_MAX=REUSE_MAX_TASKS)
    signals.task_prerun.connect(_close_unusable_or_obsolete, weak=False)
    signals.task_postrun.connect(_close_unusable_or_obsolete, weak=False)


def _close_unusable_or_obsolete(sender: Any = None, **kwargs: Any) -> None:
    """Django's request_started/finished rule, around a task (eager tasks run inline in the
    caller's own connection and transaction: leave it alone)."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()
