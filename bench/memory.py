"""Benchmark: memory and time of one big feed (issue 13 goal 3).

    .venv/bin/python bench/memory.py --port 18420          # farm on 127.0.0.1:18420
    .venv/bin/python bench/memory.py --trace               # + the top allocation sites

1. ``import``: in a fresh process (Django set up, the import's modules and the broker's
   Redis client loaded, as a worker is before its first task), one ``--events`` feed
   imported inline through the engine (claim, fetch, parse, upsert, attempt): peak RSS
   (``VmHWM``) after start-up and at the end, and CPU. Twice: a new feed, then the same feed
   changed. Two feeds: the farm's (Airbnb style: its stays spread over centuries, ~70 inside
   the import window) and a dense one (``dense``: every event inside the window, Airbnb's
   lines; the import's cap keeps 5,000), served on ``--port`` + 1; its change moves every
   tenth stay a day.
2. ``worker`` (``--worker``): the same farm feed imported by a real Celery worker (prefork,
   one pool process, ``syncing.sync_items`` on the bench broker), new then changed: RSS of
   the pool process after start and its peak (``VmHWM``) after each import; the worker's
   main process too. A worker carries more than the in-process start-up above (Celery's
   own modules, the broker's client).
3. ``parse``: the ``--files`` largest files of ``--corpus`` (real-world feeds, read in
   place), each parsed in a fresh process with ``parse_feed`` (the import's settings):
   wall and CPU time (best of 3), events, peak RSS over the process after start-up.

Uses the bench database (``BENCH_DB``) and the Redis of bench/_setup.py; writes
bench/reports/memory.json. Not run by CI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._setup import ROOT, bench_env, setup_django, write_report  # noqa: E402

CORPUS = Path("/work/shared/realworld-ics")
KIND = "calendars.feed"


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM; ru_maxrss carries the parent's over fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def _top_sites(snapshot, limit: int = 12) -> list[str]:
    stats = snapshot.statistics("lineno")
    return [f"{stat.size / 1e6:.1f} MB {stat.traceback[0]}" for stat in stats[:limit]]


def child_import(url: str, trace: bool) -> dict:
    """Import ``url`` as a new feed, then again after the farm moved on (see the module)."""
    import django

    os.environ.update(bench_env())
    django.setup()
    # The broker's client: a worker on the Redis broker loads it at start (kombu's transport;
    # it pulls redis.asyncio and redis.cluster, 5 MB), here the rate limiter at the fetch.
    import redis  # noqa: F401
    from django.contrib.auth import get_user_model

    import calendars.ics.parse  # noqa: F401 - loaded before the baseline, as in a worker
    import calendars.services.feed_sync  # noqa: F401
    from calendars.models import Feed, Listing
    from syncing.kinds import get_kind
    from syncing.services.claims import claim_one
    from syncing.services.runs import run_claimed

    owner, _ = get_user_model().objects.get_or_create(username="bench-memory@example.com")
    Listing.objects.filter(owner=owner).delete()
    listing = Listing.objects.create(owner=owner, name="Memory", timezone="Europe/Paris")
    feed = Feed.objects.create(listing=listing, url=url, source="airbnb")
    if trace:
        import tracemalloc

        tracemalloc.start(1)
    result = {"baseline_mb": round(peak_rss_mb(), 1)}
    loaded = set(sys.modules)
    for label in ("new", "changed"):
        if label == "changed":
            import requests

            requests.post(url.split("/feeds/")[0] + "/control/advance", timeout=10)
        start = time.process_time()
        claim = claim_one(get_kind(KIND), feed.pk, force=True)
        attempt = run_claimed(KIND, claim.token, claim.pks).attempts[0]
        result[label] = {
            "peak_mb": round(peak_rss_mb(), 1),
            "cpu_s": round(time.process_time() - start, 2),
            "outcome": attempt.outcome,
            "counts": {k: v for k, v in attempt.counts.items() if k != "skipped_reasons"},
        }
        if label == "new":
            result["modules_loaded_by_the_first_import"] = len(set(sys.modules) - loaded)
        if trace:
            result[label]["traced_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 1e6, 1)
            result[label]["top"] = _top_sites(tracemalloc.take_snapshot())
            tracemalloc.reset_peak()
    listing.delete()
    return result


def child_parse(path: str, trace: bool) -> dict:
    """Parse one file as the import would (its zone, cap and own domain)."""
    import django

    os.environ.update(bench_env())
    django.setup()
    from calendars.ics.parse import parse_feed
    from calendars.models import EXPORT_DOMAIN
    from calendars.services.feed_sync import MAX_EVENTS

    body = Path(path).read_bytes()
    baseline = peak_rss_mb()
    if trace:
        import tracemalloc

        tracemalloc.start(1)
    times, cpu = [], []
    for _ in range(3):
        started, cpu_started = time.perf_counter(), time.process_time()
        feed = parse_feed(
            body, default_tz="Europe/Paris", max_events=MAX_EVENTS, own_domain=EXPORT_DOMAIN
        )
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        del feed
    feed = parse_feed(
        body, default_tz="Europe/Paris", max_events=MAX_EVENTS, own_domain=EXPORT_DOMAIN
    )
    result = {
        "file": Path(path).name,
        "bytes": len(body),
        "vevents": body.count(b"BEGIN:VEVENT"),
        "events": len(feed.events),
        "decoded": feed.decoded,
        "best_s": round(min(times), 3),
        "best_cpu_s": round(min(cpu), 3),
        "baseline_mb": round(baseline, 1),
        "peak_delta_mb": round(peak_rss_mb() - baseline, 1),
    }
    if trace:
        result["top"] = _top_sites(tracemalloc.take_snapshot())
    return result


def run_child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        cwd=ROOT,
        env={**os.environ, **bench_env()},
        capture_output=True,
        text=True,
        timeout=900,
    )
    if out.returncode:
        raise RuntimeError(f"child failed: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_import(port: int, events: int, trace: bool) -> dict:
    from calendars.feedfarm.server import make_server
    from syncing.serving import serving

    farm = make_server(port, 1, change_fraction=1.0, cache_bytes=256 * 1024**2)
    extra = ["--trace"] if trace else []
    with serving(farm, name="feedfarm") as server:
        url = f"{server.base_url}/feeds/1.ics?style=airbnb&events={events}"
        result = {"farm": run_child("import", url, *extra)}
    with serving(_dense_server(port + 1, events), name="dense-feed") as server:
        port_ = server.server_address[1]
        result["dense"] = run_child("import", f"http://127.0.0.1:{port_}/dense.ics", *extra)
    result["events_in_feed"] = events
    return result


def _status_mb(pid: int) -> dict:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {key: round(int(fields[key].split()[0]) / 1024, 1) for key in ("VmRSS", "VmHWM")}


def _worker_memory(main_pid: int) -> dict:
    """RSS and peak of a worker's main process and of its pool processes (MB)."""
    children = Path(f"/proc/{main_pid}/task/{main_pid}/children").read_text().split()
    return {"main": _status_mb(main_pid), "pool": [_status_mb(int(pid)) for pid in children]}


def _import_by_worker(feed, app) -> dict:
    """Claim ``feed``, send its chunk to the worker, wait (60 s at most) for its import."""
    from calendars.models import Feed
    from syncing.kinds import get_kind
    from syncing.services.claims import claim_one

    before = Feed.objects.get(pk=feed.pk).last_import
    claim = claim_one(get_kind(KIND), feed.pk, force=True)
    args = [KIND, str(claim.token), list(claim.pks)]
    app.send_task("syncing.sync_items", args=args, queue="default")
    for _ in range(120):
        time.sleep(0.5)
        done = Feed.objects.get(pk=feed.pk).last_import
        if done and done != before:
            return {k: done.get(k) for k in ("events", "created", "updated", "renamed")}
    raise RuntimeError("the worker did not import the feed within 60 s")


def measure_worker(port: int, events: int) -> dict:
    """The farm's feed imported by a real worker (see the module), new then changed."""
    import requests
    from django.contrib.auth import get_user_model

    from bench._setup import purge, start_workers, stop_workers
    from calendars.feedfarm.server import make_server
    from calendars.models import Feed, Listing
    from config.celery_app import app
    from syncing.serving import serving

    purge()
    farm = make_server(port, 1, change_fraction=1.0, cache_bytes=256 * 1024**2)
    owner, _ = get_user_model().objects.get_or_create(username="bench-memory@example.com")
    Listing.objects.filter(owner=owner).delete()
    listing = Listing.objects.create(owner=owner, name="Memory", timezone="Europe/Paris")
    workers = start_workers(1, queues="default")
    try:
        time.sleep(6)  # past start_workers' own wait: every pool process up
        result = {"after_start": _worker_memory(workers[0].pid)}
        with serving(farm, name="feedfarm") as server:
            url = f"{server.base_url}/feeds/1.ics?style=airbnb&events={events}"
            feed = Feed.objects.create(listing=listing, url=url, source="airbnb")
            for label in ("new", "changed"):
                if label == "changed":
                    requests.post(f"{server.base_url}/control/advance", timeout=10)
                counts = _import_by_worker(feed, app)
                result[label] = {"counts": counts, **_worker_memory(workers[0].pid)}
    finally:
        stop_workers(workers)
        listing.delete()
    return result


def dense_feed(events: int, version: int) -> bytes:
    """``events`` Airbnb-style stays, all inside the import window (see the module)."""
    from datetime import UTC, datetime, timedelta

    first = datetime.now(UTC).date() - timedelta(days=25)
    lines = ["BEGIN:VCALENDAR", "PRODID:-//Airbnb Inc//Hosting Calendar 0.8.8//EN",
             "CALSCALE:GREGORIAN", "VERSION:2.0"]  # fmt: skip
    for n in range(events):
        start = first + timedelta(days=n * 750 // events + (version if n % 10 == 0 else 0))
        end = start + timedelta(days=1 + n % 4)
        lines += [
            "BEGIN:VEVENT",
            f"DTEND;VALUE=DATE:{end:%Y%m%d}",
            f"DTSTART;VALUE=DATE:{start:%Y%m%d}",
            f"UID:1418fb94e984-{n:032x}@airbnb.com",
            "DESCRIPTION:Reservation URL: https://www.airbnb.com/hosting/reservations/detai",
            f" ls/HM{n:08X}\\nPhone Number (Last 4 Digits): {n % 10000:04d}",
            "SUMMARY:Reserved",
            "DTSTAMP:20261130T180000Z",
            "END:VEVENT",
        ]
    return ("\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n").encode()


def _dense_server(port: int, events: int):
    """127.0.0.1:``port`` serving the dense feed; POST /control/advance changes it."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    state = {"version": 0, "body": dense_feed(events, 0)}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar; charset=utf-8")
            self.send_header("Content-Length", str(len(state["body"])))
            self.end_headers()
            self.wfile.write(state["body"])

        def do_POST(self) -> None:
            state["version"] += 1
            state["body"] = dense_feed(events, state["version"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="the feed farm's (0: any free)")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=2)
    parser.add_argument("--corpus", default=str(CORPUS))
    parser.add_argument("--trace", action="store_true", help="tracemalloc's top sites")
    parser.add_argument("--worker", action="store_true", help="also import through a worker")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, target = args.child[0], args.child[1]
        trace = args.trace
        call = child_import if kind == "import" else child_parse
        print(json.dumps(call(target, trace)))
        return
    setup_django()
    report = {
        "command": " ".join([".venv/bin/python", "bench/memory.py", *sys.argv[1:]]),
        "load_average_at_start": os.getloadavg(),
        "import": measure_import(args.port, args.events, args.trace),
    }
    for feed in ("farm", "dense"):
        imported = report["import"][feed]
        for label in ("new", "changed"):
            row = imported[label]
            print(
                f"import of a {args.events:,}-event {feed} feed ({label}): peak "
                f"{row['peak_mb']} MB (after start-up {imported['baseline_mb']} MB: +"
                f"{row['peak_mb'] - imported['baseline_mb']:.1f}), {row['cpu_s']} s CPU, "
                f"{row['outcome']} {row['counts']}"
            )
    if args.worker:
        report["worker"] = measure_worker(args.port + 2, args.events)
        print(f"a worker importing the {args.events:,}-event farm feed: {report['worker']}")
    files = sorted(Path(args.corpus).glob("*.ics"), key=lambda p: p.stat().st_size)
    report["parse"] = []
    for path in reversed(files[-args.files :] if args.files else []):
        row = run_child("parse", str(path), *(["--trace"] if args.trace else []))
        report["parse"].append(row)
        print(
            f"parse {row['file']} ({row['bytes'] / 1e6:.1f} MB, {row['vevents']} VEVENTs): "
            f"{row['best_s']} s ({row['best_cpu_s']} s CPU), {row['events']} events, "
            f"+{row['peak_delta_mb']} MB"
        )
        for line in row.get("top", []):
            print("   ", line)
    report["load_average_at_end"] = os.getloadavg()
    print(f"load average {report['load_average_at_end']}; report: {write_report('memory', report)}")


if __name__ == "__main__":
    main()
