"""Queue depth on RabbitMQ: a passive ``queue.declare`` answers each queue's message count.

Passive declares never create a queue; a queue that does not exist yet (no worker or
publisher declared it) has nothing waiting, so it counts 0. RabbitMQ does not tell the age
of the oldest message without consuming it, so that figure stays unknown (``None``).
"""

from __future__ import annotations

from kombu import Connection
from kombu.exceptions import ChannelError

from syncing.monitoring.queues import QueueDepth

TIMEOUT_SECONDS = 2.0


def rabbitmq_depths(url: str, names: list[str]) -> list[QueueDepth]:
    """Messages ready in each named queue (unacknowledged ones are not counted).

    Raises the connection's error when the broker does not answer.
    """
    depths = []
    with Connection(url, connect_timeout=TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)
        channel = conn.channel()
        try:
            for name in names:
                try:
                    reply = channel.queue_declare(queue=name, passive=True)
                except ChannelError:  # 404: never declared; the channel is closed by it
                    channel = conn.channel()
                    depths.append(QueueDepth(name, 0, None))
                    continue
                depths.append(QueueDepth(name, int(reply.message_count), None))
        finally:
            channel.close()
    return depths
