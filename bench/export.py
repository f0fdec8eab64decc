"""Benchmark: the public merged export (issue 13 goal 2), served by gunicorn (2 workers).

    .venv/bin/python bench/export.py                    # 50 listings x 300 events, 20 s/case
    .venv/bin/python bench/export.py --seconds 5        # a quicker run

Seeds ``--listings`` listings of ``--events`` events (3 feeds each) in a database of its own
(syncbeat_bench_export), starts gunicorn with 2 workers on 127.0.0.1 (Redis cache, as in
production), and for ``--seconds`` per case has ``--clients`` threads poll random listings:

- ``304``: If-None-Match with the current ETag (channels polling an unchanged export): one
  query for the rows and their digest, no body built;
- ``200``: no validator, plain body: the body comes from the cache;
- ``200 gzip``: Accept-Encoding: gzip, from the cache too;
- ``200 cold``: the cache flushed before each request and the state's ``inputs`` cleared,
  so every request builds the body (what every request cost before).

Prints requests/s and latency percentiles per case, plus the in-process cost of building a
body against reading the validators; writes bench/reports/export.json. Not run by CI.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_DB", "syncbeat_bench_export")

from bench._setup import ROOT, bench_env, setup_django, write_report  # noqa: E402


def seed(listings: int, events: int) -> list[str]:
    """The listings' export paths (created once; reused when already there)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from calendars.models import Event, EventKind, Feed, Listing, Source

    owner, _ = get_user_model().objects.get_or_create(username="bench-export@example.com")
    have = list(Listing.objects.filter(owner=owner).order_by("pk"))
    now = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    sources = (Source.AIRBNB, Source.VRBO, Source.BOOKING)
    for index in range(len(have), listings):
        listing = Listing.objects.create(owner=owner, name=f"Bench listing {index}")
        rows = []
        for position, source in enumerate(sources):
            feed = Feed.objects.create(
                listing=listing, url=f"https://example.com/{index}/{source}.ics", source=source
            )
            for n in range(events // len(sources)):
                start = now + timedelta(days=3 * n + position - 20)
                rows.append(
                    Event(
                        feed=feed,
                        uid=f"{index}-{source}-{n}@example.com",
                        start=start,
                        end=start + timedelta(days=1 + n % 3),
                        all_day=True,
                        kind=EventKind.RESERVATION if n % 3 else EventKind.BLOCK,
                    )
                )
        Event.objects.bulk_create(rows, batch_size=2000)
        have.append(listing)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE calendars_event")
        cursor.execute("ANALYZE calendars_feed")
    return [listing.export_path for listing in have[:listings]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int) -> subprocess.Popen:
    env = {**os.environ, **bench_env(), "DEBUG": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "4", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def run_case(base: str, paths: list[str], *, seconds: float, clients: int, case: str) -> dict:
    import requests

    etags: dict[str, str] = {}
    with requests.Session() as warm:
        for path in paths:
            etags[path] = warm.get(base + path, headers={"Accept-Encoding": "identity"}).headers[
                "ETag"
            ]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(seed_: int) -> None:
        rng = random.Random(seed_)
        mine, seen = [], {}
        with requests.Session() as session:
            while time.monotonic() < deadline:
                path = rng.choice(paths)
                headers = {"Accept-Encoding": "gzip" if case == "200 gzip" else "identity"}
                if case == "304":
                    headers["If-None-Match"] = etags[path]
                if case == "200 cold":
                    cold(path)
                started = time.perf_counter()
                # The bytes as sent (no inflating in the client: it shares the CPUs).
                response = session.get(base + path, headers=headers, stream=True)
                response.raw.read(decode_content=False)
                response.close()
                mine.append(time.perf_counter() - started)
                seen[response.status_code] = seen.get(response.status_code, 0) + 1
        with lock:
            latencies.extend(mine)
            for status, count in seen.items():
                statuses[status] = statuses.get(status, 0) + count

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "case": case,
        "requests": len(latencies),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(quantiles[49] * 1000, 2),
        "p90_ms": round(quantiles[89] * 1000, 2),
        "p99_ms": round(quantiles[98] * 1000, 2),
        "statuses": statuses,
    }


def cold(path: str) -> None:
    """Forget the cached body and the inputs digest of the listing behind ``path`` (its
    keys only: the Redis database may be shared)."""
    from django.core.cache import cache

    from calendars.models import Listing
    from calendars.services.export import _cache_key

    token = path.rsplit("/", 1)[1].removesuffix(".ics")
    listing = Listing.objects.only("pk", "export_state").get(export_token=token)
    digest = (listing.export_state.get("") or {}).get("digest", "")
    if digest:
        cache.delete(_cache_key(listing.pk, digest))
    Listing.objects.filter(pk=listing.pk).update(export_state={})


def in_process(paths: list[str], rounds: int = 200) -> dict:
    """Milliseconds per call: the body built (rows, icalendar, digest) against the
    validators only (export_inputs: one aggregate query on PostgreSQL)."""
    import hashlib

    from django.utils import timezone

    from calendars.models import Listing
    from calendars.services import export

    token = paths[0].rsplit("/", 1)[1].removesuffix(".ics")
    listing = Listing.objects.get(export_token=token)

    def build():
        rows = export.export_rows(listing, leave_out=None, now=timezone.now())
        hashlib.sha256(export.render_body(listing, rows)).hexdigest()

    def validators():
        export.export_inputs(listing, leave_out=None, now=timezone.now())

    result = {}
    for name, call in (("build_ms", build), ("validators_ms", validators)):
        started = time.perf_counter()
        for _ in range(rounds):
            call()
        result[name] = round((time.perf_counter() - started) / rounds * 1000, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listings", type=int, default=50)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()

    setup_django()
    paths = seed(args.listings, args.events)
    port = free_port()
    server = start_gunicorn(port)
    base = f"http://127.0.0.1:{port}"
    try:
        cases = [
            run_case(base, paths, seconds=args.seconds, clients=args.clients, case=case)
            for case in ("304", "200", "200 gzip", "200 cold")
        ]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    report = {
        "listings": args.listings,
        "events_per_listing": args.events,
        "clients": args.clients,
        "seconds_per_case": args.seconds,
        "server": "gunicorn config.wsgi --workers 2 --threads 4 (127.0.0.1), Redis cache",
        "cores": os.cpu_count(),
        "cases": cases,
        "in_process": in_process(paths),
    }
    for case in cases:
        print(
            f"{case['case']:>9}: {case['per_second']:>7} req/s  p50 {case['p50_ms']} ms  "
            f"p90 {case['p90_ms']} ms  p99 {case['p99_ms']} ms  {case['statuses']}"
        )
    print(f"in process: {report['in_process']}")
    print(f"report: {write_report('export', report)}")


if __name__ == "__main__":
    main()
