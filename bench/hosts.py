"""Benchmark: workers on several hosts, one broker and one database.

    .venv/bin/python bench/hosts.py                       # 1, 2 and 4 hosts, 30,000 items each
    .venv/bin/python bench/hosts.py --processes 1 2 --items 10000 --no-netns
    .venv/bin/python bench/hosts.py --pgbouncer    # workers through PgBouncer (transaction mode)

Each "host" is a Celery worker with one pool process, its own node name
(``worker@hostN``) and its own directory (cwd and SYNCBEAT_VAR_DIR); as root each runs in
a network namespace of its own (``ip netns``), reaching PostgreSQL and Redis over a veth pair
(bench/_hosts_net.py), else as a plain process on 127.0.0.1 (the report says which). The
bench starts its own PostgreSQL (initdb, port 18310) and Redis (port 18311) so that their
CPU can be read from /proc: the database's share of the machine shows where it becomes the
limit. This process dispatches (claims and publishes, as beat's dispatch task would) the
no-op kind; the figure is items/s from the first claim to the last attempt written.
Everything it made (namespaces, veths, processes, the data directory) is removed at the
end, on Ctrl-C and on an error. Bounded: ``--max-seconds`` per round (default 120).
Writes bench/reports/hosts.json (hosts-pgbouncer.json with ``--pgbouncer``). Not run by CI.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._hosts_net import (  # noqa: E402
    PG_PORT,
    REDIS_PORT,
    Host,
    Services,
    cleanup_namespaces,
    machine_busy,
    make_hosts,
    start_services,
    stop_services,
    tree_cpu,
)

BENCH_DB = "syncbeat_hosts"
PGBOUNCER_PORT = int(os.environ.get("BENCH_HOSTS_PGBOUNCER_PORT", "18312"))
os.environ.setdefault("BENCH_PG_ADMIN_URL", f"postgres://postgres@127.0.0.1:{PG_PORT}/postgres")
os.environ.setdefault("BENCH_DB", BENCH_DB)
os.environ.setdefault("BENCH_BROKER_URL", f"redis://127.0.0.1:{REDIS_PORT}/14")
os.environ.setdefault("BENCH_REDIS_URL", f"redis://127.0.0.1:{REDIS_PORT}/13")

from bench._setup import ROOT, purge, setup_django, stop_workers, write_report  # noqa: E402
from bench.dispatch import reset_probes  # noqa: E402


def start_pgbouncer(addresses: list[str]):
    """Debian's pgbouncer (pool_mode=transaction) in front of the bench's PostgreSQL,
    listening where the hosts reach it; yields (port, _, pid)."""
    from tests.support.pgbouncer import pgbouncer

    return pgbouncer(
        host="127.0.0.1",
        upstream_port=PG_PORT,
        dbname=BENCH_DB,
        user="postgres",
        pool_size=int(os.environ.get("BENCH_PGBOUNCER_POOL_SIZE", "4")),
        listen=",".join(addresses),
        port=PGBOUNCER_PORT,
    )


def start_worker(host: Host, bouncer_port: int | None) -> subprocess.Popen:
    address = host.service_address
    db_port = bouncer_port or PG_PORT
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://postgres@{address}:{db_port}/{BENCH_DB}",
        "DATABASE_POOLER": "transaction" if bouncer_port else "",
        "CELERY_BROKER_URL": f"redis://{address}:{REDIS_PORT}/14",
        "REDIS_URL": f"redis://{address}:{REDIS_PORT}/13",
        "DATABASE_POOL": "false",
        "ALLOW_PRIVATE_URLS": "true",
        "LOG_LEVEL": "INFO",
        "SYNCBEAT_VAR_DIR": str(host.workdir / "var"),
    }
    args = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default"]
    args += ["-c", "1", "--pool", "prefork", "-l", "info", "-n", f"worker@host{host.index}"]
    args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    log = open(host.workdir / "worker.log", "w")  # noqa: SIM115 - the child writes it
    return subprocess.Popen(
        host.command(args),
        cwd=host.workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(hosts: list[Host], procs: list[subprocess.Popen], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    for host, proc in zip(hosts, procs, strict=True):
        log = host.workdir / "worker.log"
        while "ready." not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"host{host.index} worker not ready:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)


def drive(items: int, max_seconds: float) -> tuple[int, float, list[str]]:
    """Dispatch until every item is claimed, wait for every attempt; (done, seconds,
    client addresses the database saw while the workers ran)."""
    from django.db import connection

    from syncing.models import SyncAttempt
    from syncing.services.dispatch import dispatch_tier

    start = time.perf_counter()
    claimed, done, clients = 0, 0, []
    while time.perf_counter() - start < max_seconds:
        if claimed < items:
            claimed += dispatch_tier("syncing.probe", "5m").claimed
        elif not clients:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT DISTINCT host(client_addr) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                clients = sorted(str(r[0]) for r in cursor.fetchall())
        done = SyncAttempt.objects.count()
        if done >= items:
            break
        time.sleep(0.2 if claimed >= items else 0.02)
    return done, time.perf_counter() - start, clients


def one_round(
    hosts: list[Host], items: int, max_seconds: float, services: Services, bouncer: tuple | None
) -> dict:
    from syncing.models import Probe, Tier

    reset_probes(items, due=items)
    Tier.objects.filter(kind="syncing.probe", name="5m").update(batch_limit=5000)
    purge()
    procs = [start_worker(h, bouncer[0] if bouncer else None) for h in hosts]
    try:
        wait_ready(hosts, procs)
        postmaster, redis_server = services.postmaster_pid(), services.redis_server_pid()
        db0, work0 = tree_cpu(postmaster), sum(tree_cpu(p.pid) for p in procs)
        redis0 = tree_cpu(redis_server)
        pooler0 = tree_cpu(bouncer[2]) if bouncer else 0.0
        me0, (busy0, total0) = time.process_time(), machine_busy()
        done, elapsed, clients = drive(items, max_seconds)
        db = tree_cpu(postmaster) - db0
        work = sum(tree_cpu(p.pid) for p in procs) - work0
        me = time.process_time() - me0
        broker = tree_cpu(redis_server) - redis0
        pooler = (tree_cpu(bouncer[2]) - pooler0) if bouncer else 0.0
        busy1, total1 = machine_busy()
    finally:
        stop_workers(procs)
        purge()
    chunks = [(h.workdir / "worker.log").read_text().count("succeeded in") for h in hosts]
    twice = Probe.objects.filter(runs__gt=1).count()
    return {
        "hosts": len(hosts),
        "database_path": "pgbouncer (transaction mode)" if bouncer else "direct",
        "worker_processes": len(hosts),
        "items": items,
        "attempts": done,
        "elapsed_s": round(elapsed, 2),
        "items_per_s": round(done / elapsed),
        "chunks_per_host": chunks,
        "items_run_twice": twice,
        "db_clients": clients,
        "db_cpu_s": round(db, 2),
        "db_cores": round(db / elapsed, 2),
        "db_cpu_ms_per_item": round(db * 1000 / max(done, 1), 3),
        "worker_cpu_ms_per_item": round(work * 1000 / max(done, 1), 3),
        # The database's ceiling: items/s one core of PostgreSQL serves at this cost. More
        # hosts add worker cores; this does not grow, so it is where the database limits.
        "db_limit_items_per_s_per_core": round(done / max(db, 1e-9)),
        "workers_cores": round(work / elapsed, 2),
        "dispatcher_cores": round(me / elapsed, 2),
        "redis_cores": round(broker / elapsed, 2),
        "pgbouncer_cores": round(pooler / elapsed, 2),
        "stack_cpu_ms_per_item": round((db + work + me + broker + pooler) * 1000 / max(done, 1), 3),
        "machine_busy_pct": round(100 * (busy1 - busy0) / max(total1 - total0, 1), 1),
        "db_share_of_busy_pct": round(100 * db / max(db + work + me + broker + pooler, 1e-9), 1),
    }


def print_round(r: dict) -> None:
    print(
        f"{r['hosts']} host(s), {r['database_path']}: {r['attempts']:,} items in "
        f"{r['elapsed_s']} s = "
        f"{r['items_per_s']:,} items/s; PostgreSQL {r['db_cores']} cores "
        f"({r['db_cpu_ms_per_item']} ms/item: {r['db_limit_items_per_s_per_core']:,} items/s "
        f"per PostgreSQL core), workers {r['workers_cores']} ({r['worker_cpu_ms_per_item']} "
        f"ms/item), dispatcher {r['dispatcher_cores']}, Redis {r['redis_cores']}, PgBouncer "
        f"{r['pgbouncer_cores']}; machine "
        f"{r['machine_busy_pct']}% busy; DB share of the measured CPU "
        f"{r['db_share_of_busy_pct']}%; chunks per host {r['chunks_per_host']}; "
        f"run twice {r['items_run_twice']}; DB clients {r['db_clients']}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--items", type=int, default=30_000)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--no-netns", action="store_true", help="plain processes on 127.0.0.1")
    parser.add_argument(
        "--pgbouncer",
        action="store_true",
        help="workers reach PostgreSQL through Debian's pgbouncer in transaction mode",
    )
    args = parser.parse_args()

    def _interrupted(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, _interrupted)
    root = Path(tempfile.mkdtemp(prefix="sbh3-hosts-"))
    services, bouncer = None, None
    stack = contextlib.ExitStack()
    try:
        network = make_hosts(max(args.processes), root, use_netns=not args.no_netns)
        print(f"hosts: {network.mode} {network.note}".rstrip(), flush=True)
        services = start_services(network.addresses())
        setup_django(fresh=True)
        if args.pgbouncer:
            bouncer = stack.enter_context(start_pgbouncer(network.addresses()))
        load = os.getloadavg()
        rounds = []
        for n in args.processes:
            hosts = network.hosts[:n]
            rounds.append(one_round(hosts, args.items, args.max_seconds, services, bouncer))
            print_round(rounds[-1])
        from django.db import connections

        connections.close_all()
        report = {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": {"cores": os.cpu_count(), "loadavg_at_start": load},
            "loadavg_at_end": os.getloadavg(),
            "host_mode": network.mode,
            "host_mode_note": network.note,
            "command": " ".join(["bench/hosts.py", *sys.argv[1:]]),
            "rounds": rounds,
        }
        print(f"load average at start {load}, at end {report['loadavg_at_end']}")
        print(f"report: {write_report('hosts-pgbouncer' if args.pgbouncer else 'hosts', report)}")
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001, S110 - Django never set up: nothing to close
            pass
        stack.close()
        stop_services(services)
        cleanup_namespaces()
        subprocess.run(["rm", "-rf", str(root)], check=False)


if __name__ == "__main__":
    main()
