"""Where a list request's CPU goes, ours against the bare DRF peer (issue 13, goal 5).

    BENCH_REDIS_URL=redis://127.0.0.1:6392/13 .venv/bin/python bench/api_lists_costs.py \
        --only "listings page 1" "feeds cursor start" --seconds 8

bench/api_lists.py's seeding, cases and gunicorn (2 workers x 4 threads, the app and the peer
under ``/bare/``), but instead of requests/s (which a shared box moves by +-0.2) it reports
per request, for each side: the gunicorn workers' CPU, the CPU of the PostgreSQL backends
serving the bench database (/proc of the pids in pg_stat_activity), PostgreSQL transactions
(pg_stat_database; the backends' stats are flushed when idle, hence the pause before the
second reading), the Redis server's CPU and its commands (INFO commandstats), and wrk's CPU.
These are robust against other load on the box. Redis figures are only meaningful when
BENCH_REDIS_URL points at a Redis of its own (nothing else using it). Writes
bench/reports/api_lists_costs.json (``--report``). Not run by CI.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_DB", "syncbeat_bench_api_lists")

from bench import api_lists  # noqa: E402
from bench._setup import (  # noqa: E402
    BENCH_DB,
    BENCH_REDIS,
    PG_ADMIN_URL,
    cpu_seconds,
    setup_django,
    write_report,
)

TICK = os.sysconf("SC_CLK_TCK")
STATS_FLUSH_SECONDS = 11  # PostgreSQL 15 flushes an idle backend's stats within 10 s


def proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def server_split(pid: int) -> tuple[float, float, int]:
    """user and system CPU seconds and context switches of the server's processes."""
    import subprocess

    pids = [pid] + [
        int(x)
        for x in subprocess.run(
            ["pgrep", "-P", str(pid)], capture_output=True, text=True
        ).stdout.split()
    ]
    user = system = switches = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            user += int(fields[11]) / TICK
            system += int(fields[12]) / TICK
            for task in Path(f"/proc/{p}/task").iterdir():
                for line in (task / "status").read_text().splitlines():
                    if line.endswith("ctxt_switches:") or "ctxt_switches" in line:
                        switches += int(line.split()[1])
        except OSError:
            pass
    return user, system, switches


def snapshot(server, admin, redis_client, redis_pid: int) -> dict:
    pids = [
        r[0]
        for r in admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", [BENCH_DB]
        ).fetchall()
    ]
    stats = redis_client.info("commandstats")
    return {
        "server": cpu_seconds(server.pid),
        "split": server_split(server.pid),
        "pg": {pid: proc_cpu(pid) for pid in pids},
        "redis_cpu": proc_cpu(redis_pid),
        "redis": {name: row["calls"] for name, row in stats.items()},
    }


def transactions(admin) -> int:
    admin.execute("SELECT pg_stat_clear_snapshot()")
    return admin.execute(
        "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", [BENCH_DB]
    ).fetchone()[0]


def per_request(before: dict, after: dict, done: int) -> dict:
    pg = sum(cpu - before["pg"].get(pid, 0.0) for pid, cpu in after["pg"].items())
    commands = {
        name.removeprefix("cmdstat_"): round((calls - before["redis"].get(name, 0)) / done, 2)
        for name, calls in after["redis"].items()
        if calls - before["redis"].get(name, 0) > 0
    }
    return {
        "server_cpu_ms": round((after["server"] - before["server"]) / done * 1000, 3),
        "server_user_ms": round((after["split"][0] - before["split"][0]) / done * 1000, 3),
        "server_sys_ms": round((after["split"][1] - before["split"][1]) / done * 1000, 3),
        "server_switches": round((after["split"][2] - before["split"][2]) / done, 1),
        "pg_cpu_ms": round(pg / done * 1000, 3),
        "redis_cpu_ms": round((after["redis_cpu"] - before["redis_cpu"]) / done * 1000, 3),
        "redis_commands": commands,
    }


def measure(side_requests, args, base, server, admin, redis_client, redis_pid) -> dict:
    if args.transactions:
        time.sleep(STATS_FLUSH_SECONDS)  # the last run's transactions counted
        xacts = transactions(admin)
    before = snapshot(server, admin, redis_client, redis_pid)
    run = api_lists.wrk(
        base, side_requests, seconds=args.seconds, clients=args.clients, server=server
    )
    after = snapshot(server, admin, redis_client, redis_pid)
    costs = per_request(before, after, run["requests"])
    if args.transactions:
        time.sleep(STATS_FLUSH_SECONDS)
        costs["pg_xacts"] = round((transactions(admin) - xacts) / run["requests"], 2)
    costs["wrk_cpu_ms"] = round(run["wrk_cpu_share"] * args.seconds / run["requests"] * 1000, 3)
    costs["total_cpu_ms"] = round(
        costs["server_cpu_ms"] + costs["pg_cpu_ms"] + costs["redis_cpu_ms"] + costs["wrk_cpu_ms"],
        3,
    )
    return {"requests": run["requests"], "per_second": run["per_second"], **costs}


def main() -> None:
    import psycopg
    import redis

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--owners", type=int, default=100)
    parser.add_argument("--listings", type=int, default=3)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--port", type=int, default=18210)
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--report", default="api_lists_costs")
    parser.add_argument(
        "--transactions", action="store_true", help="PostgreSQL transactions too (22 s a run)"
    )
    parser.add_argument(
        "--no-throttle", action="store_true", help="ours without the plan throttle's round trip"
    )
    args = parser.parse_args()

    setup_django()
    owners = api_lists.seed(args.owners, args.listings, args.events)
    chosen = {
        k: v
        for k, v in api_lists.cases(owners, args.events).items()
        if not args.only or k in args.only
    }
    redis_client = redis.Redis.from_url(BENCH_REDIS)
    redis_pid = int(redis_client.info("server")["process_id"])
    admin = psycopg.connect(PG_ADMIN_URL, autocommit=True)
    if args.no_throttle:
        api_lists.APP = "bench.api_lists_nothrottle:application"
    server = api_lists.start_gunicorn(args.port)
    base = f"http://127.0.0.1:{args.port}"
    results: dict = {}
    try:
        for case in chosen.values():  # warm every thread's connections on both sides
            for side in ("ours", "peer"):
                api_lists.wrk(base, case[side], seconds=2, clients=args.clients, server=server)
        for name, case in chosen.items():
            for n in range(args.rounds):
                for side in ("ours", "peer") if n % 2 == 0 else ("peer", "ours"):
                    row = measure(case[side], args, base, server, admin, redis_client, redis_pid)
                    results.setdefault(name, {}).setdefault(side, []).append(row)
                    print(f"{name:<22} {side:<4} {row}", flush=True)
    finally:
        api_lists.stop(server)
    report = {
        "config": {**vars(args), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())},
        "cases": results,
    }
    print(f"report: {write_report(args.report, report)}")


if __name__ == "__main__":
    main()
