"""A real Celery worker process for tests, on the test database and the test broker."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import connection

from tests.support.processes import die_with_parent

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        host = db.get("HOST") or "127.0.0.1"
        port = db.get("PORT") or 5432
        user = db.get("USER") or "postgres"
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


def on_rabbitmq() -> bool:
    return settings.TEST_BROKER_URL.startswith("amqp")


def app_redis_env() -> dict:
    """Env for a worker or beat that needs the app's Redis (heartbeats, the beat lock): the
    broker's own Redis serves them when the test broker is Redis, the suite's otherwise."""
    return {"TEST_APP_REDIS": "1"} if on_rabbitmq() else {}


def purge_broker() -> None:
    from config.celery_app import app

    with app.connection_for_write() as conn:
        for queue in settings.CELERY_QUEUES_ALL.split(","):
            # A channel per queue: on RabbitMQ a failed purge (no such queue yet) closes it.
            channel = conn.channel()
            with contextlib.suppress(Exception):  # the queue may not exist yet
                channel.queue_purge(queue)
            with contextlib.suppress(Exception):
                channel.close()
    if settings.TEST_BROKER_URL.startswith("redis"):
        import redis

        redis.Redis.from_url(settings.TEST_BROKER_URL).flushdb()


def broker_depth(queue: str) -> int:
    """Messages waiting (not delivered) on ``queue`` of the test broker, on either broker."""
    if settings.TEST_BROKER_URL.startswith("redis"):
        import redis

        broker = redis.Redis.from_url(settings.TEST_BROKER_URL)
        # kombu keeps one list per priority step: "queue" and "queue:<step>".
        keys = [queue, *(k.decode() for k in broker.keys(f"{queue}:*"))]
        return sum(broker.llen(k) for k in keys if broker.type(k) == b"list")
    from config.celery_app import app

    with app.connection_for_write() as conn:
        channel = conn.channel()
        try:
            return channel.queue_declare(queue, passive=True).message_count
        except Exception:  # not declared yet: nothing waits on it
            return 0
        finally:
            with contextlib.suppress(Exception):
                channel.close()


def runs_now(model, pk: int) -> bool:
    """Whether a worker has taken the item ``pk`` of ``model`` and runs it: it holds the
    item's advisory lock (PostgreSQL; syncing.services.leases). A take within seconds of
    the claim leaves the lease as it was, so a changed lease is no such signal."""
    from syncing.services.leases import _lock_class

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid::bigint = %s AND objid::bigint = %s",
            [_lock_class(model._meta.db_table), pk],
        )
        return cursor.fetchone()[0] > 0


def broker_unacked() -> int:
    """Messages delivered to a worker and not yet acknowledged, on either broker.

    RabbitMQ says so only through ``rabbitmqctl`` (AMQP does not): -1 when it cannot be read.
    """
    if settings.TEST_BROKER_URL.startswith("redis"):
        import redis

        return redis.Redis.from_url(settings.TEST_BROKER_URL).hlen("unacked")
    if not settings.TEST_BROKER_URL.startswith("amqp"):
        return 0
    vhost = urlsplit(settings.TEST_BROKER_URL).path[1:] or "/"
    out = subprocess.run(
        [
            "rabbitmqctl",
            "-q",
            "--no-table-headers",
            "list_queues",
            "-p",
            unquote(vhost),
            "messages_unacknowledged",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if out.returncode != 0:
        return -1
    return sum(int(n) for n in out.stdout.split() if n.isdigit())


class Worker:
    def __init__(self, process: subprocess.Popen, log_path: Path):
        self.process = process
        self.log_path = log_path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log:
                return
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"worker exited ({self.process.returncode}):\n{self.log[-3000:]}"
                )
            time.sleep(0.1)
        raise TimeoutError(f"worker never logged {text!r}:\n{self.log[-3000:]}")

    def pool_children(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def kill_hard(self) -> None:
        """SIGKILL the worker and its pool children: no goodbye, no acks."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill_hard()


def _start_celery(args: list[str], *, env: dict | None, prefix: str) -> Worker:
    """Start ``celery <args>`` on the test database and broker, logging to a temp file."""
    connection.close()  # the child must not inherit our connection state
    log = Path(tempfile.mkstemp(prefix=prefix, suffix=".log")[1])
    child_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": test_database_url(),
        "SYNCBEAT_VAR_DIR": str(settings.VAR_DIR),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args],
            cwd=ROOT,
            env=child_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    return Worker(process, log)


@contextmanager
def celery_worker(
    *,
    queues: str = "dispatch,urgent,io,cpu,default",
    concurrency: int = 2,
    pool: str = "prefork",
    env: dict | None = None,
):
    """Start ``celery worker`` as a subprocess that shares the test database and broker.

    Tests using it must commit their data (``django_db(transaction=True)``).
    """
    args = [
        "worker",
        "-Q",
        queues,
        "--concurrency",
        str(concurrency),
        "--pool",
        pool,
        "-l",
        "info",
        "--without-gossip",
        "--without-mingle",
        "-n",
        f"test-{os.getpid()}@%h",
    ]
    worker = _start_celery(args, env=env, prefix="celery-worker-")
    try:
        worker.wait_for("ready.", timeout=60)
        yield worker
    finally:
        worker.stop()


@contextmanager
def celery_beat(*, env: dict | None = None):
    """Start ``celery beat`` with the database scheduler on the test database."""
    args = ["beat", "-l", "info", "--pidfile=", "--max-interval", "1"]
    beat = _start_celery(args, env=env, prefix="celery-beat-")
    try:
        yield beat
    finally:
        beat.stop()
