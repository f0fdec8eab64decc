"""The engine on RabbitMQ: real worker and beat processes, quorum and classic queues,
on-demand syncs ahead of a backlog on both brokers, and queue depth.

Skipped, with the reason, when RabbitMQ does not answer at TEST_AMQP_URL (default: the
local broker's / vhost). Every test deletes the engine's queues before and after, since a
queue cannot change type once declared.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from amqp.exceptions import PreconditionFailed
from django.conf import settings
from django.utils import timezone
from kombu import Connection
from prometheus_client.parser import text_string_to_metric_families

from syncing.models import Probe, SyncAttempt, Tier
from syncing.monitoring.queues import queue_depths
from syncing.monitoring.rabbitmq import rabbitmq_depths
from syncing.services.tiers import ensure_default_tiers
from tests.support.worker import ROOT, celery_beat, celery_worker, purge_broker
from tests.support.worker import test_database_url as database_url_of_tests
from tests.syncing.factories import make_probes

AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
QUEUES = settings.CELERY_QUEUES_ALL.split(",")


def _rabbitmq_answers() -> bool:
    try:
        with Connection(AMQP_URL, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        return False


RABBITMQ = _rabbitmq_answers()
pytestmark = [
    pytest.mark.worker,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]
needs_rabbitmq = pytest.mark.skipif(
    not RABBITMQ, reason=f"needs RabbitMQ (not answering at {AMQP_URL})"
)


def _delete_queues() -> None:
    with Connection(AMQP_URL, connect_timeout=2) as conn:
        for name in QUEUES:
            channel = conn.channel()
            with contextlib.suppress(Exception):
                channel.queue_delete(name)
            with contextlib.suppress(Exception):
                channel.close()


@pytest.fixture
def rabbitmq():
    if not RABBITMQ:
        pytest.skip(f"needs RabbitMQ (not answering at {AMQP_URL})")
    _delete_queues()
    yield AMQP_URL
    _delete_queues()


def _amqp_env(queue_type: str) -> dict:
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CELERY_BROKER_URL": AMQP_URL,
        "CELERY_RABBITMQ_QUEUE_TYPE": queue_type,
    }


def _publish(env: dict, code: str) -> None:
    """Run engine code in a process of its own on ``env``'s broker (as web or beat would)."""
    child_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": database_url_of_tests(),
        "SYNCBEAT_VAR_DIR": str(settings.VAR_DIR),
        **env,
    }
    script = f"import django; django.setup()\n{code}"
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=child_env, check=True, timeout=60)


def wait_until(predicate, timeout=60.0, interval=0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@needs_rabbitmq
def test_beat_and_a_worker_on_quorum_queues_sync_every_item_once(rabbitmq):
    ensure_default_tiers()
    tier = Tier.objects.get(kind="syncing.probe", name="5m")
    tier.dispatch_every = timedelta(seconds=1)
    tier.save()
    make_probes(250, tier="5m")
    env = _amqp_env("quorum")
    with celery_worker(env=env) as worker, celery_beat(env=env) as beat:
        synced = wait_until(lambda: SyncAttempt.objects.filter(outcome="ok").count() >= 250)
        assert synced, f"worker:\n{worker.log[-2000:]}\nbeat:\n{beat.log[-2000:]}"
        assert wait_until(lambda: not Probe.objects.filter(lease_token__isnull=False).exists())
    assert SyncAttempt.objects.count() == 250
    assert Probe.objects.filter(last_success_at__isnull=True).count() == 0
    assert "Traceback" not in worker.log
    assert "Global QoS is disabled" in worker.log  # Celery saw the quorum queues
    with Connection(rabbitmq) as conn, pytest.raises(PreconditionFailed):
        # The queue exists as a quorum queue: declaring it classic is refused.
        conn.channel().queue_declare("default", durable=True, arguments={"x-queue-type": "classic"})
    assert {d.queue: d.depth for d in rabbitmq_depths(rabbitmq, QUEUES)}["default"] == 0


def _backlog_then_sync_now(env: dict) -> Probe:
    """300 items claimed (3 chunks at the default priority), then one synced on demand."""
    make_probes(300, tier="5m", sleep_ms=10)
    later = make_probes(1, tier="5m", due=timezone.now() + timedelta(hours=1))[0]
    _publish(
        env,
        "from syncing.services.dispatch import dispatch_tier, sync_now\n"
        "assert dispatch_tier('syncing.probe', '5m').claimed == 300\n"
        f"assert sync_now('syncing.probe', {later.pk})\n",
    )
    return later


def _assert_on_demand_ran_first(later: Probe) -> None:
    assert wait_until(lambda: SyncAttempt.objects.filter(outcome="ok").count() == 301)
    first = SyncAttempt.objects.order_by("started_at").first()
    assert first.item_id == later.pk, "the on-demand sync should pass the queued backlog"


@needs_rabbitmq
def test_on_demand_sync_passes_a_backlog_on_rabbitmq_and_depth_is_counted(
    rabbitmq, settings, client
):
    env = _amqp_env("classic")
    later = _backlog_then_sync_now(env)
    settings.CELERY_BROKER_URL = rabbitmq
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    depths = {d.queue: d.depth for d in queue_depths()}  # what the dashboard shows
    assert depths["default"] == 4  # 3 chunks and the on-demand message
    assert depths["io"] == 0
    metrics = client.get("/metrics").content.decode()
    samples = {
        s.labels["queue"]: s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
        if s.name == "syncbeat_queue_depth"
    }
    assert samples["default"] == 4
    with celery_worker(env=env, concurrency=1):
        _assert_on_demand_ran_first(later)


@pytest.mark.redis
def test_on_demand_sync_passes_a_backlog_on_redis():
    if not settings.TEST_BROKER_URL.startswith("redis"):
        pytest.skip("the test broker is not Redis (RabbitMQ's priorities are tested above)")
    purge_broker()
    later = _backlog_then_sync_now({"CELERY_BROKER_URL": settings.TEST_BROKER_URL})
    try:
        with celery_worker(concurrency=1):
            _assert_on_demand_ran_first(later)
    finally:
        purge_broker()
