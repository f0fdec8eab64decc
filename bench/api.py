"""Benchmark: HTTP load on the web tier with locust, headless (issue 13, goal 7).

    .venv/bin/python bench/api.py                         # 100 owners, steps of 60 s
    .venv/bin/python bench/api.py --steps 4 8 16 --seconds 30

Seeds ``--owners`` owners (realtime plan, a knox token and a logged-in session each), with
``--listings`` listings of 3 feeds and ``--events`` events per listing, in a database of its
own; starts gunicorn as the Procfile's ``web`` does (2 workers, 4 threads: gthread) on
127.0.0.1; then for each number of locust users in ``--steps`` runs
``locust -f bench/api_locustfile.py --headless`` for ``--seconds`` (the mix of channels
polling exports, API reads and owner pages is described there). Reports requests/s and
p50/p95/p99 per step, and the best requests/s with p95 under ``--p95-ms`` (100).

Locust runs as one process on the same 2-core box as gunicorn, PostgreSQL and Redis: it
takes CPU from the server (its CPU share is reported per step), so the figure is a floor
for a machine that only serves. Writes bench/reports/api.json. Not run by CI.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_DB", "syncbeat_bench_api")

from bench._setup import ROOT, bench_env, cpu_seconds, setup_django, write_report  # noqa: E402

LOCUSTFILE = ROOT / "bench" / "api_locustfile.py"
WORK = ROOT / "var" / "bench" / "api"


def seed_owner(index: int, listings: int, events: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone
    from knox.models import AuthToken

    from calendars.models import Event, EventKind, Feed, Listing, Source
    from syncing.models import Account

    email = f"api-bench-{index}@example.com"
    user, _ = get_user_model().objects.get_or_create(username=email, defaults={"email": email})
    Account.objects.update_or_create(user=user, defaults={"plan": "realtime"})
    have = list(Listing.objects.filter(owner=user).order_by("pk"))
    day = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    sources = (Source.AIRBNB, Source.VRBO, Source.BOOKING)
    for n in range(len(have), listings):
        listing = Listing.objects.create(owner=user, name=f"Flat {index}-{n}")
        rows = []
        for position, source in enumerate(sources):
            feed = Feed.objects.create(
                listing=listing, url=f"https://example.com/{index}/{n}/{source}.ics", source=source
            )
            for k in range(events // len(sources)):
                start = day + timedelta(days=3 * k + position - 20)
                rows.append(
                    Event(
                        feed=feed,
                        uid=f"{index}-{n}-{source}-{k}@example.com",
                        start=start,
                        end=start + timedelta(days=1 + k % 3),
                        all_day=True,
                        kind=EventKind.RESERVATION if k % 3 else EventKind.BLOCK,
                    )
                )
        Event.objects.bulk_create(rows, batch_size=2000)
        have.append(listing)
    _, token = AuthToken.objects.create(user)
    client = Client()
    client.force_login(user)
    return {
        "token": token,
        "session": client.cookies["sessionid"].value,
        "listings": [listing.pk for listing in have[:listings]],
        "exports": [listing.export_path for listing in have[:listings]],
    }


def seed(owners: int, listings: int, events: int) -> dict:
    from django.db import connection

    rows = [seed_owner(i, listings, events) for i in range(owners)]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE calendars_event")
        cursor.execute("ANALYZE calendars_feed")
    exports = [path for row in rows for path in row.pop("exports")]
    return {"owners": rows, "exports": exports}


def validators(base: str, paths: list[str]) -> dict[str, list[str]]:
    """Each export's ETag and Last-Modified, as a channel that polled it before keeps them."""
    import requests

    out = {}
    with requests.Session() as session:
        for path in paths:
            r = session.get(base + path, timeout=60)
            out[path] = [r.headers.get("ETag", ""), r.headers.get("Last-Modified", "")]
    return out


def start_gunicorn(port: int) -> subprocess.Popen:
    """As the Procfile's web: 2 workers, 4 threads each (gthread), gunicorn.conf.py read."""
    env = {**os.environ, **bench_env(), "DEBUG": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "4", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    for _ in range(150):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError("gunicorn did not start")


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def run_step(users: int, *, seconds: float, base: str, seed_file: Path, server) -> dict:
    """One locust run of ``users`` users (all spawned at once) for ``seconds``."""
    prefix = WORK / f"step-{users}"
    args = [
        str(Path(sys.executable).with_name("locust")), "-f", str(LOCUSTFILE), "--headless",
        "-u", str(users), "-r", str(users), "-t", f"{int(seconds)}s", "--host", base,
        "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "5",
    ]  # fmt: skip
    env = {**os.environ, "API_BENCH_SEED": str(seed_file)}
    server_before = cpu_seconds(server.pid)
    started = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    locust_cpu = 0.0
    try:
        deadline = started + seconds + 60
        while proc.poll() is None and time.perf_counter() < deadline:
            locust_cpu = max(locust_cpu, cpu_seconds(proc.pid))
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            stop(proc)
    elapsed = time.perf_counter() - started
    server_cpu = cpu_seconds(server.pid) - server_before
    row = read_stats(Path(f"{prefix}_stats.csv"))
    row.update(
        users=users,
        locust_cpu_share=round(locust_cpu / elapsed, 2),
        gunicorn_cpu_share=round(server_cpu / elapsed, 2),
        load_avg=os.getloadavg(),
    )
    return row


def read_stats(path: Path) -> dict:
    """Locust's CSV: the aggregate row and each request name's count and p95."""
    with path.open() as f:
        rows = list(csv.DictReader(f))
    per_name = {
        r["Name"]: {"requests": int(r["Request Count"]), "p95_ms": _num(r["95%"])}
        for r in rows
        if r["Name"] != "Aggregated"
    }
    total = next(r for r in rows if r["Name"] == "Aggregated")
    return {
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "requests_per_s": round(float(total["Requests/s"]), 1),
        "p50_ms": _num(total["50%"]),
        "p95_ms": _num(total["95%"]),
        "p99_ms": _num(total["99%"]),
        "by_name": per_name,
    }


def _num(text: str) -> float | None:
    return None if text in ("", "N/A") else float(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--owners", type=int, default=100)
    parser.add_argument("--listings", type=int, default=3, help="listings per owner")
    parser.add_argument("--events", type=int, default=90, help="events per listing")
    parser.add_argument("--steps", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    parser.add_argument("--seconds", type=float, default=60.0, help="per step")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds, not measured")
    parser.add_argument("--p95-ms", type=float, default=100.0)
    parser.add_argument("--port", type=int, default=18510)
    parser.add_argument("--report", default="api")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up on a kill

    setup_django()
    seeded = seed(args.owners, args.listings, args.events)
    WORK.mkdir(parents=True, exist_ok=True)
    seed_file = WORK / "seed.json"
    seed_file.write_text(json.dumps(seeded))
    server = start_gunicorn(args.port)
    base = f"http://127.0.0.1:{args.port}"
    seeded["validators"] = validators(base, seeded["exports"])  # as channels already hold
    seed_file.write_text(json.dumps(seeded))
    steps = []
    try:  # a first step warms the workers (imports, caches, the first exports), not kept
        run_step(2, seconds=args.warmup, base=base, seed_file=seed_file, server=server)
        for users in args.steps:
            row = run_step(
                users, seconds=args.seconds, base=base, seed_file=seed_file, server=server
            )
            steps.append(row)
            print(
                f"{users:>4} users: {row['requests_per_s']:>7} req/s  p50 {row['p50_ms']} ms  "
                f"p95 {row['p95_ms']} ms  p99 {row['p99_ms']} ms  failures {row['failures']}  "
                f"CPU gunicorn {row['gunicorn_cpu_share']} / locust {row['locust_cpu_share']} "
                f"cores  load {row['load_avg'][0]:.1f}",
                flush=True,
            )
    finally:
        stop(server)
    under = [s for s in steps if s["p95_ms"] is not None and s["p95_ms"] < args.p95_ms]
    best = max(under, key=lambda s: s["requests_per_s"], default=None)
    report = {
        "config": {
            **vars(args),
            "server": "gunicorn config.wsgi --workers 2 --threads 4 (127.0.0.1)",
            "locust": "one process on the same machine (-u N -r N, no wait between tasks)",
            "command": " ".join([".venv/bin/python", "bench/api.py", *sys.argv[1:]]),
            "cores": os.cpu_count(),
        },
        "steps": steps,
        "best_under_p95": best and {k: best[k] for k in ("users", "requests_per_s", "p95_ms")},
    }
    print(f"best with p95 < {args.p95_ms:g} ms: {report['best_under_p95']}")
    print(f"report: {write_report(args.report, report)}")


if __name__ == "__main__":
    main()
