"""What the engine needs to know about its broker: queue declarations and priorities.

The engine speaks one priority scale everywhere: 0 runs first, 9 last (on-demand syncs and
alarms about to ring are 0, periodic work 5). Brokers disagree:

- **Redis** (kombu's transport with ``priority_steps`` 0..9): one list per step, the lowest
  number served first. The engine's scale is used as is.
- **RabbitMQ, classic queues** (the default): declared with ``x-max-priority: 9``; the
  *highest* number is delivered first, so a message's priority is sent as ``9 - p``.
- **RabbitMQ, quorum queues** (``CELERY_RABBITMQ_QUEUE_TYPE=quorum``: replicated, the
  recommended type for a cluster): no ``x-max-priority``. RabbitMQ 4.0+ serves a quorum
  queue's messages in two levels (AMQP priority 5 and above first), which the same ``9 - p``
  lands on (0..4 high, 5..9 normal); RabbitMQ 3.x ignores the priority on quorum queues.
  Urgent briefings do not depend on it: they have their own ``urgent`` queue on every
  broker. Celery disables global QoS for quorum queues (``worker_detect_quorum_queues``).

The translation happens at publish time (``before_task_publish``), so every publisher
(dispatch, sync now, webhooks) keeps the engine's scale; a message published without a
priority is given ``DEFAULT_PRIORITY`` (5), so on-demand syncs (0) pass periodic work on
Redis too, where kombu would otherwise file it under 0.
"""

from __future__ import annotations

from kombu import Exchange, Queue

MAX_PRIORITY = 9
# What a message published without a priority runs at (periodic work, webhooks, rollups).
DEFAULT_PRIORITY = 5
QUEUE_TYPES = ("classic", "quorum")


def broker_family(url: str) -> str:
    """``redis``, ``amqp``, ``filesystem`` or the URL's scheme for anything else."""
    scheme = url.split("://", 1)[0].split("+", 1)[0]
    if scheme in ("redis", "rediss", "unix"):
        return "redis"
    if scheme in ("amqp", "amqps", "pyamqp"):
        return "amqp"
    return scheme


def amqp_priority(priority: int) -> int:
    """The engine's priority (0 first) as RabbitMQ's (highest first), clamped to 0..9."""
    return MAX_PRIORITY - max(0, min(MAX_PRIORITY, int(priority)))


def rabbitmq_queues(names: list[str], queue_type: str) -> tuple[Queue, ...]:
    """Durable queues for the names, each on its own direct exchange (Celery's default).

    Raises ValueError for a queue type other than ``classic`` or ``quorum``.
    """
    if queue_type not in QUEUE_TYPES:
        raise ValueError(f"queue type must be one of {', '.join(QUEUE_TYPES)}: {queue_type!r}")
    if queue_type == "quorum":
        arguments = {"x-queue-type": "quorum"}
    else:
        arguments = {"x-max-priority": MAX_PRIORITY}
    return tuple(
        Queue(name, Exchange(name, type="direct"), routing_key=name, queue_arguments=arguments)
        for name in names
    )


def translate_priority(properties: dict | None = None, **kwargs) -> None:
    """``before_task_publish`` receiver: give every message a priority the broker reads.

    A message published without one gets ``DEFAULT_PRIORITY`` (kombu's Redis transport
    would otherwise file it under 0, level with on-demand syncs); on RabbitMQ the engine's
    scale is turned around.
    """
    if properties is None:
        return
    from django.conf import settings

    priority = properties.get("priority")
    if priority is None:
        priority = DEFAULT_PRIORITY
    if broker_family(settings.CELERY_BROKER_URL) == "amqp":
        priority = amqp_priority(priority)
    properties["priority"] = priority
