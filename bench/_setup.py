"""Shared set-up for the benchmarks: a database of their own on PostgreSQL, Redis broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPORTS = ROOT / "bench" / "reports"
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BENCH_DB = os.environ.get("BENCH_DB", "syncbeat_bench")
BENCH_BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
BENCH_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def bench_env() -> dict:
    return {
        "DATABASE_URL": PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + BENCH_DB,
        "CELERY_BROKER_URL": BENCH_BROKER,
        "REDIS_URL": BENCH_REDIS,
        "DATABASE_POOL": "false",
        "ALLOW_PRIVATE_URLS": "true",
        "LOG_LEVEL": "WARNING",
        "SYNCBEAT_VAR_DIR": str(ROOT / "var" / "bench"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


def setup_django(*, fresh: bool = False) -> None:
    """Create the benchmark database if needed, migrate it, and set Django up on it."""
    import psycopg

    os.environ.update(bench_env())
    sys.path.insert(0, str(ROOT))
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{BENCH_DB}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def start_workers(
    n: int,
    *,
    queues: str,
    concurrency: int = 1,
    pool: str = "prefork",
    extra: list[str] | None = None,
) -> list[subprocess.Popen]:
    env = {**os.environ, **bench_env()}
    procs = []
    for i in range(n):
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queues,
            "-c",
            str(concurrency),
            "--pool",
            pool,
            "-l",
            "warning",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"bench{i}-{os.getpid()}@%h",
            *(extra or []),
        ]
        procs.append(
            subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
    time.sleep(4)  # let them connect
    return procs


def stop_workers(procs: list[subprocess.Popen]) -> None:
    import signal

    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=5)


def purge(url: str = BENCH_BROKER) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def write_report(name: str, data: dict) -> Path:
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of a process and its children (from /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        pids += [int(x) for x in out.split()]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError):
            pass
    return total
