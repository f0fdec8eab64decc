"""How deep each Celery queue is and how long its oldest message has waited.

Redis broker: ``LLEN`` of the queue's list and of its per-priority lists (kombu names them
``<queue><sep><priority>``); the oldest message is the tail of each list. Filesystem broker
(the embedded default): the message files named ``*.<queue>.msg`` and their mtimes.
RabbitMQ: a passive declare per queue (syncing.monitoring.rabbitmq), age unknown. Other
brokers: depth unknown (``None``), said so on the dashboard.

The age of the oldest message comes from its ``published_at`` header when the publisher set
one, else, for the engine's ``syncing.sync_items`` messages, from their ``expires`` (the
claim's lease end) minus the lease length; otherwise it is unknown.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings

logger = logging.getLogger("syncing.monitoring")


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    depth: int | None  # None: the broker cannot tell us
    oldest_age_seconds: float | None


def queue_names() -> list[str]:
    names = settings.CELERY_QUEUES_ALL
    return [n.strip() for n in names.split(",") if n.strip()]


def queue_depths() -> list[QueueDepth]:
    """Depth and oldest-message age of every queue the workers consume."""
    url = str(settings.CELERY_BROKER_URL)
    names = queue_names()
    try:
        if url.startswith(("redis://", "rediss://", "unix://")):
            return [_redis_depth(url, name) for name in names]
        if url.startswith("filesystem"):
            return _filesystem_depths(names)
        if url.startswith("amqp"):
            from syncing.monitoring.rabbitmq import rabbitmq_depths

            return rabbitmq_depths(url, names)
    except Exception as exc:  # a broker that does not answer makes the figures unknown
        logger.warning("queue depth: broker did not answer: %s", exc)
    return [QueueDepth(name, None, None) for name in names]


def _redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _redis_keys(name: str) -> list[str]:
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS or {}
    sep = options.get("sep", "\x06\x16")
    steps = options.get("priority_steps", [0, 3, 6, 9])
    prefix = options.get("global_keyprefix", "")
    return [prefix + (f"{name}{sep}{p}" if p else name) for p in steps]


def _redis_depth(url: str, name: str) -> QueueDepth:
    client = _redis_client(url)
    keys = _redis_keys(name)
    with client.pipeline() as pipe:
        for key in keys:
            pipe.llen(key)
            pipe.lindex(key, -1)
        replies = pipe.execute()
    depth = sum(int(n or 0) for n in replies[0::2])
    ages = [_message_age(raw) for raw in replies[1::2] if raw]
    known = [a for a in ages if a is not None]
    return QueueDepth(name, depth, max(known) if known else None)


def _message_age(raw: bytes | str) -> float | None:
    try:
        message = json.loads(raw)
    except ValueError:
        return None
    headers = message.get("headers") or {}
    now = time.time()
    published = headers.get("published_at")
    if isinstance(published, int | float):
        return max(0.0, now - published)
    if headers.get("task") == "syncing.sync_items" and headers.get("expires"):
        try:
            expires = datetime.fromisoformat(headers["expires"]).timestamp()
        except (TypeError, ValueError):
            return None
        return max(0.0, now - (expires - settings.SYNC_LEASE_SECONDS))
    return None


def _filesystem_depths(names: list[str]) -> list[QueueDepth]:
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS or {}
    folder = Path(options.get("data_folder_in", ""))
    counts = dict.fromkeys(names, 0)
    oldest: dict[str, float] = {}
    if folder.is_dir():
        for entry in folder.iterdir():
            queue = entry.name.partition(".")[2].removesuffix(".msg")
            if queue not in counts:
                continue
            counts[queue] += 1
            try:
                mtime = entry.stat().st_mtime
            except FileNotFoundError:  # consumed while we looked
                continue
            oldest[queue] = min(oldest.get(queue, mtime), mtime)
    now = time.time()
    return [
        QueueDepth(n, counts[n], max(0.0, now - oldest[n]) if n in oldest else None) for n in names
    ]
