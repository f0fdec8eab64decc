"""Fast recovery: a chunk that hit a database error is retried at once with backoff, a dead
worker's items are due again within a minute (the lease), time limits fit in the lease,
and a worker that crashes under `make run` (honcho + bin/supervise) is started again."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.checks import Error
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from syncing.checks import time_limits_within_the_lease
from syncing.models import Probe, SyncAttempt
from syncing.services.dispatch import dispatch_tier
from tests.support import worker as support
from tests.support.processes import die_with_parent
from tests.support.worker import ROOT, celery_worker, purge_broker, runs_now
from tests.syncing.factories import make_probes

PROBE = "syncing.probe"


def wait_until(predicate, timeout=30.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


@pytest.fixture
def clean_broker():
    purge_broker()
    yield
    purge_broker()


def terminate_other_connections() -> int:
    """What a PostgreSQL restart does to the workers' connections."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid()
                 AND backend_type = 'client backend'"""
        )
        return cursor.fetchone()[0]


@pytest.mark.worker
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_chunk_cut_off_by_a_database_error_is_retried_within_seconds(clean_broker):
    """The workers' connections are cut mid-chunk: the chunk retries its unfinished items
    with backoff (no waiting for the 60 s lease), each item gets exactly one attempt."""
    make_probes(30, mode=Probe.Mode.SLOW, sleep_ms=150)
    with celery_worker(concurrency=1):
        started = time.monotonic()
        assert dispatch_tier(PROBE, "5m").claimed == 30
        assert wait_until(lambda: SyncAttempt.objects.count() >= 3, timeout=20)
        assert terminate_other_connections() >= 1
        assert wait_until(lambda: SyncAttempt.objects.count() >= 30, timeout=40)
        took = time.monotonic() - started
        assert wait_until(lambda: not Probe.objects.filter(lease_token__isnull=False).exists())
    assert took < 30, f"took {took:.1f} s: the items waited for their lease"
    # (Without the retry the items would wait for their 60 s lease and a new dispatch,
    # which this test never runs: they would not be synced at all.)
    per_item = SyncAttempt.objects.values("item_id").annotate(n=Count("id"))
    assert len(per_item) == 30 and {row["n"] for row in per_item} == {1}
    assert set(SyncAttempt.objects.values_list("outcome", flat=True)) == {"ok"}


@pytest.mark.worker
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_dead_workers_items_are_due_again_within_a_minute_by_default(clean_broker):
    """Default settings: the lease a running chunk holds ends at most 60 s after the worker's
    last renewal, so a worker killed with SIGKILL hands its items back within a minute
    (it used to be the 900 s lease)."""
    make_probes(3, mode=Probe.Mode.SLOW, sleep_ms=20_000)
    with celery_worker(concurrency=1) as worker:
        assert dispatch_tier(PROBE, "5m").claimed == 3
        first = min(Probe.objects.values_list("pk", flat=True))
        assert wait_until(lambda: runs_now(Probe, first), timeout=30), worker.log[-3000:]
        time.sleep(1.0)
        worker.kill_hard()
        killed_at = timezone.now()
    leases = list(Probe.objects.values_list("leased_until", flat=True))
    assert all(lease is not None for lease in leases)
    assert max(leases) <= killed_at + timedelta(seconds=60)
    assert not SyncAttempt.objects.exists()


def test_the_lease_must_outlast_an_items_time_limit(settings):
    assert time_limits_within_the_lease(None) == []  # the defaults: 60 s lease, 30 s deadline
    settings.SYNC_LEASE_SECONDS = 30
    problems = time_limits_within_the_lease(None)
    assert problems and all(isinstance(p, Error) and p.id == "syncing.E002" for p in problems)
    assert "FETCH_DEADLINE" in problems[0].msg


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _descendants(pid: int) -> list[int]:
    found = []
    for child in _children(pid):
        found += [child, *_descendants(child)]
    return found


def _is_celery_main(pid: int) -> bool:
    command = Path(f"/proc/{pid}/cmdline").read_text().split("\0")
    return "celery" in command and "bin/supervise" not in command and bool(_children(pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and " Z " not in Path(f"/proc/{pid}/stat").read_text()


@pytest.mark.worker
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_make_run_restarts_a_crashed_worker_and_ctrl_c_still_stops_everything(
    clean_broker, settings
):
    """honcho on a Procfile whose worker runs under bin/supervise, as `make run` does: the
    worker's main process is killed, it comes back and syncs, and SIGINT to honcho stops
    all of it within 10 s."""
    procfile = Path(tempfile.mkdtemp()) / "Procfile"
    procfile.write_text(
        "worker: bin/supervise python -m celery -A config worker -Q default,dispatch "
        "--concurrency 1 --without-gossip --without-mingle -l info -n supervised@%h\n"
    )
    log = Path(tempfile.mkstemp(suffix=".log")[1])
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "DJANGO_SETTINGS_MODULE": "config.test_settings",
        "DATABASE_URL": support.test_database_url(),
        "SYNCBEAT_VAR_DIR": str(settings.VAR_DIR),
        "PYTHONUNBUFFERED": "1",
    }
    connection.close()
    honcho = [sys.executable, "-m", "honcho", "start", "-f", str(procfile), "-d", str(ROOT)]
    with open(log, "w") as out:
        process = subprocess.Popen(
            honcho,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    text = lambda: log.read_text(errors="replace")  # noqa: E731
    seen: set[int] = set()
    try:
        assert wait_until(lambda: text().count("ready.") >= 1, timeout=60), text()[-3000:]
        everything = _descendants(process.pid)
        seen.update(everything)
        celery_main = next(pid for pid in everything if _is_celery_main(pid))
        os.kill(celery_main, signal.SIGKILL)
        assert wait_until(lambda: "restarting in" in text(), timeout=15), text()[-3000:]
        assert wait_until(lambda: text().count("ready.") >= 2, timeout=60), text()[-3000:]
        assert process.poll() is None, "honcho must keep running"
        (probe,) = make_probes(1)
        assert dispatch_tier(PROBE, "5m").claimed == 1
        assert wait_until(
            lambda: SyncAttempt.objects.filter(item_id=probe.pk).exists(), timeout=45
        ), text()[-4000:]
        everything = _descendants(process.pid)
        seen.update(everything)
        stop_started = time.monotonic()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
        assert time.monotonic() - stop_started < 10
        assert wait_until(lambda: not any(_alive(pid) for pid in everything), timeout=3)
    finally:
        # Only what this test started: honcho and the processes seen under it.
        leftovers = seen | set(_descendants(process.pid))
        if process.poll() is None:
            process.kill()
        for pid in leftovers:
            try:  # a pid may have been reused since: only ours carry the worker's name
                if "supervised@" in Path(f"/proc/{pid}/cmdline").read_text():
                    os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, FileNotFoundError):
                pass
