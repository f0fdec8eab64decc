"""How many workers are alive, and on which queues.

Each worker announces itself every HEARTBEAT_EVERY seconds with a Redis key that expires
after HEARTBEAT_TTL; counting the live keys answers "how many workers" without asking the
broker to inspect them (slow, and it wakes every worker). Redis is the cache's (REDIS_URL)
or else the broker's; with neither, the count is unknown (None).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings

logger = logging.getLogger("syncing.workers")

KEY_PREFIX = "syncbeat:worker:"
HEARTBEAT_EVERY = 30.0
HEARTBEAT_TTL = 90

_stop = threading.Event()


def _redis():
    url = settings.REDIS_URL or settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def announce(hostname: str, queues: list[str], *, client=None) -> bool:
    """Say "this worker is alive" for the next HEARTBEAT_TTL seconds."""
    client = client or _redis()
    if client is None:
        return False
    value = json.dumps(
        {"hostname": hostname, "pid": os.getpid(), "queues": queues, "at": time.time()}
    )
    client.set(KEY_PREFIX + hostname, value, ex=HEARTBEAT_TTL)
    return True


def live_workers() -> list[dict] | None:
    """The workers that announced themselves lately; None when there is no Redis to ask."""
    try:
        client = _redis()
        if client is None:
            return None
        keys = list(client.scan_iter(match=KEY_PREFIX + "*", count=500))
        values = client.mget(keys) if keys else []
    except Exception as exc:  # monitoring must not break the page that shows it
        logger.warning("cannot count workers: %r", exc)
        return None
    return [json.loads(v) for v in values if v]


@worker_ready.connect(dispatch_uid="syncing.worker_heartbeat")
def _start_heartbeat(sender=None, **kwargs) -> None:
    hostname = getattr(sender, "hostname", None) or f"worker-{os.getpid()}"
    queues = sorted(sender.app.amqp.queues.consume_from) if sender is not None else []

    def loop() -> None:
        while not _stop.is_set():
            try:
                announce(hostname, queues)
            except Exception as exc:
                logger.warning("worker heartbeat failed: %r", exc)
            _stop.wait(HEARTBEAT_EVERY)

    threading.Thread(target=loop, name="syncbeat-heartbeat", daemon=True).start()


@worker_shutdown.connect(dispatch_uid="syncing.worker_heartbeat_stop")
def _stop_heartbeat(sender=None, **kwargs) -> None:
    _stop.set()
    hostname = getattr(sender, "hostname", None)
    client = _redis()
    if client is not None and hostname:
        try:
            client.delete(KEY_PREFIX + hostname)
        except Exception as exc:
            logger.warning("could not remove worker heartbeat: %r", exc)
