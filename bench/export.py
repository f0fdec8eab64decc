"""Benchmark: the public merged export (issue 13 goal 2), served by gunicorn (2 workers).

    .venv/bin/python bench/export.py                    # 50 listings x 500 events, 20 s/case
    .venv/bin/python bench/export.py --seconds 5        # a quicker run
    .venv/bin/python bench/export.py --threads 0        # sync workers instead of gthread

Seeds ``--listings`` listings of ``--events`` events (3 feeds each) in a database of its own
(``BENCH_DB``, default syncbeat_bench_export), starts gunicorn with 2 workers on 127.0.0.1
(``--port``; Redis cache, as in production) and the bare peer (bench/export_peer.py: a fixed
body under the same Django settings and middleware, no query) on the next port, and for
``--seconds`` per case drives them with wrk (``--clients`` connections; the Python client
below when wrk is missing) over random listings:

- ``304``: If-None-Match with the current ETag (channels polling an unchanged export): the
  token's lookup and the stored state, no rows read, no body;
- ``200``: no validator, plain body: the body comes from the cache;
- ``200 gzip``: Accept-Encoding: gzip, from the cache too;
- ``200 cold``: the cache flushed before each request and the stored state cleared, so
  every request builds the body (what every request cost before; Python client).

Prints requests/s, latency percentiles, the server's CPU per request (gunicorn's processes)
and the load generator's CPU (it shares the 2 cores), the peer's figures and the ratio, plus
the in-process cost of building a body against reading the validators; writes
bench/reports/export.json. Not run by CI.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_DB", "syncbeat_bench_export")

from bench._setup import ROOT, bench_env, cpu_seconds, setup_django, write_report  # noqa: E402


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


def start_gunicorn(port: int, *, threads: int, app: str = "config.wsgi", env=None):
    """gunicorn with 2 workers: gthread with ``threads`` threads each, or sync when 0."""
    env = {**os.environ, **bench_env(), "DEBUG": "false", **(env or {})}
    workers = ["--threads", str(threads)] if threads else ["--worker-class", "sync"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", app, "--pythonpath", str(ROOT / "bench"),
         "--bind", f"127.0.0.1:{port}", "--workers", "2", *workers, "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            time.sleep(1.0)  # both workers booted
            return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def etags_of(base: str, paths: list[str]) -> dict[str, str]:
    import requests

    with requests.Session() as session:
        return {
            path: session.get(base + path, headers={"Accept-Encoding": "identity"}).headers["ETag"]
            for path in paths
        }


WRK_SCRIPT = """
local requests_ = {}
for line in io.lines("%(paths)s") do
  local path, tag = line:match("^(%%S+) (%%S+)$")
  local headers = {["Accept-Encoding"] = "%(encoding)s"}
  if %(conditional)s then headers["If-None-Match"] = tag end
  table.insert(requests_, wrk.format("GET", path, headers))
end
local i = 0
request = function()
  i = i + 1
  return requests_[(i %% #requests_) + 1]
end
"""


def wrk_case(base: str, etags: dict, *, seconds: float, clients: int, case: str, server) -> dict:
    """One case driven by wrk (one thread: it shares the 2 cores with the server): its
    requests/s and latency percentiles, the server's CPU per request (gunicorn master and
    workers, from /proc) and wrk's own CPU."""
    paths = list(etags)
    random.Random(7).shuffle(paths)
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "paths.txt"
        listing.write_text("".join(f"{p} {etags[p]}\n" for p in paths))
        script = Path(tmp) / "case.lua"
        script.write_text(
            WRK_SCRIPT
            % {
                "paths": listing,
                "encoding": "gzip" if case == "200 gzip" else "identity",
                "conditional": "true" if case == "304" else "false",
            }
        )
        before_server, before_client = cpu_seconds(server.pid), _children_cpu()
        started = time.monotonic()
        out = subprocess.run(
            ["wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--latency",
             "-s", str(script), base],
            capture_output=True, text=True, timeout=seconds + 30, check=True,
        ).stdout  # fmt: skip
        elapsed = time.monotonic() - started
        server_cpu = cpu_seconds(server.pid) - before_server
        client_cpu = _children_cpu() - before_client
    requests_ = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "case": case,
        "requests": requests_,
        "per_second": round(requests_ / elapsed, 1),
        **{f"p{q}_ms": _wrk_ms(out, q) for q in (50, 90, 99)},
        "errors": int(errors.group(1)) if errors else 0,
        "server_cpu_ms_per_request": round(server_cpu / max(requests_, 1) * 1000, 3),
        "client_cpu_share": round(client_cpu / elapsed, 2),
    }


def _wrk_ms(out: str, quantile: int) -> float:
    value, unit = re.search(rf"^\s+{quantile}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=4, help="per worker; 0: sync workers")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (peer: +1)")
    args = parser.parse_args()

    setup_django()
    paths = seed(args.listings, args.events)
    port = args.port or free_port()
    peer_port = port + 1 if args.port else free_port()
    server = start_gunicorn(port, threads=args.threads)
    base = f"http://127.0.0.1:{port}"
    peer = None
    try:
        etags = etags_of(base, paths)
        size = len(_get(base + paths[0]))
        peer = start_gunicorn(
            peer_port, threads=args.threads, app="export_peer:application",
            env={"EXPORT_PEER_BYTES": str(size)},
        )  # fmt: skip
        cases, peers = _run_cases(args, base, f"http://127.0.0.1:{peer_port}", etags, server, peer)
    finally:
        for proc in (server, peer):
            if proc is not None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
    report = {
        "listings": args.listings,
        "events_per_listing": args.events,
        "body_bytes": size,
        "clients": args.clients,
        "seconds_per_case": args.seconds,
        "server": f"gunicorn --workers 2 {_worker_label(args.threads)} (127.0.0.1), Redis cache",
        "load_generator": "wrk -t1" if shutil.which("wrk") else "Python requests threads",
        "cores": os.cpu_count(),
        "load_average": os.getloadavg(),
        "cases": cases,
        "peer": peers,
        "in_process": in_process(paths),
    }
    _print(report)
    print(f"report: {write_report('export', report)}")


def _run_cases(args, base: str, peer_base: str, etags: dict, server, peer):
    cases, peers = [], []
    use_wrk = shutil.which("wrk") is not None
    for case in ("304", "200", "200 gzip"):
        if use_wrk:
            common = {"seconds": args.seconds, "clients": args.clients, "case": case}
            cases.append(wrk_case(base, etags, server=server, **common))
            peer_tags = dict.fromkeys(etags, '"peer"')
            peers.append(wrk_case(peer_base, peer_tags, server=peer, **common))
        else:
            cases.append(
                run_case(base, list(etags), seconds=args.seconds, clients=args.clients, case=case)
            )
    cold_seconds = min(args.seconds, 10.0)
    cases.append(
        run_case(base, list(etags), seconds=cold_seconds, clients=args.clients, case="200 cold")
    )
    return cases, peers


def _get(url: str) -> bytes:
    import requests

    return requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=30).content


def _worker_label(threads: int) -> str:
    return f"--threads {threads} (gthread)" if threads else "--worker-class sync"


def _print(report: dict) -> None:
    peers = {peer["case"]: peer for peer in report["peer"]}
    for case in report["cases"]:
        line = (
            f"{case['case']:>9}: {case['per_second']:>7} req/s  p50 {case['p50_ms']} ms  "
            f"p90 {case['p90_ms']} ms  p99 {case['p99_ms']} ms"
        )
        if "server_cpu_ms_per_request" in case:
            line += (
                f"  server CPU {case['server_cpu_ms_per_request']} ms/req"
                f"  wrk CPU {case['client_cpu_share']:.0%}"
            )
        peer = peers.get(case["case"])
        if peer:
            line += (
                f"  | peer {peer['per_second']} req/s, {peer['server_cpu_ms_per_request']}"
                f" ms/req: ratio {case['per_second'] / peer['per_second']:.2f}"
            )
        print(line)
    print(f"in process: {report['in_process']}  load average: {report['load_average']}")


if __name__ == "__main__":
    main()
