"""Benchmark: the API's lists against bare DRF (issue 13, goal 5: 0.9 of the peer or better).

    .venv/bin/python bench/api_lists.py                      # 100 owners x 3 listings x 300
    .venv/bin/python bench/api_lists.py --seconds 5 --rounds 1   # a quicker run

Seeds ``--owners`` owners (realtime plan, a knox token each) with ``--listings`` listings of
3 feeds and ``--events`` events each (bench/api.py's seeding; every feed gets a typical
``last_import``), in a database of its own (``BENCH_DB``, default syncbeat_bench_api_lists).
Starts one gunicorn as the Procfile's ``web`` runs it (2 workers, 4 threads, gunicorn.conf.py
read, access log on; bound to 127.0.0.1:``--port``) serving bench/api_lists_peer.py's
application: our app as in production, plus the bare DRF peer under ``/bare/`` (plain
ModelSerializers and viewsets over the same tables and fields, the same knox auth and page
size, filtered by owner only, Django's default middleware).

Each case is one list read with an owner's token, rotating over all owners (and listings):
events of a listing (page 1, the last page, cursor start, cursor's last page), listings and
feeds (page 1, cursor start). wrk (one thread, ``--clients`` connections) drives ours and the
peer for ``--seconds`` each, ``--rounds`` times in alternating order. Reported per case and
side: requests/s, p50/p99, the server's CPU per request (gunicorn's processes, /proc) and
wrk's CPU share (it shares the cores: is the load generator the bottleneck?), and the ratio
ours / peer. In-process, through the same WSGI application, it counts SQL statements per
page for both and checks that no cursor page runs a COUNT(*), and that both sides answer the
same rows. Writes bench/reports/api_lists.json. Not run by CI.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("BENCH_DB", "syncbeat_bench_api_lists")

from bench._setup import ROOT, bench_env, cpu_seconds, setup_django, write_report  # noqa: E402

APP = "bench.api_lists_peer:application"
OURS, PEER, PEER_CURSOR = "/api/v1/", "/bare/api/v1/", "/bare/cursor/api/v1/"
LAST_IMPORT = {
    "at": "2026-12-01T10:00:00Z", "events": 100, "created": 2, "updated": 1, "cancelled": 1,
    "unchanged": 96, "renamed": 0, "skipped": [["x1@example.com", "bad_dtstart"]],
    "skipped_count": 1, "unknown_tzids": [], "left_out": 0, "truncated": False,
    "covered_until": None, "held_back": 0, "kept": {"ended": 4},
}  # fmt: skip
WRK_SCRIPT = """
local requests_ = {}
for line in io.lines("%(paths)s") do
  local path, token = line:match("^(%%S+) (%%S+)$")
  table.insert(requests_, wrk.format("GET", path, {["Authorization"] = "Token " .. token}))
end
local i = 0
request = function()
  i = i + 1
  return requests_[(i %% #requests_) + 1]
end
"""


# --- seeding and the requests of each case ------------------------------------------------
def seed(owners: int, listings: int, events: int) -> list[dict]:
    from knox.models import AuthToken

    from bench.api import seed_owner
    from calendars.models import Feed

    # One token per owner (seed_owner makes a new one per run; knox reads all of an owner's
    # tokens on every request, so old runs' tokens would slow both sides).
    AuthToken.objects.filter(user__username__startswith="api-bench-").delete()
    rows = [seed_owner(i, listings, events) for i in range(owners)]
    Feed.objects.filter(listing__owner__username__startswith="api-bench-").update(
        last_import=LAST_IMPORT
    )
    return rows


def call(path: str, token: str, *, count: bool = False) -> tuple[int, dict, list[str]]:
    """GET ``path`` in-process through the served WSGI application: status, JSON body and
    (with ``count``) the SQL statements it ran."""
    import json

    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from bench.api_lists_peer import application

    environ = RequestFactory().get(path, HTTP_AUTHORIZATION=f"Token {token}").environ
    environ.update(HTTP_HOST="127.0.0.1", SERVER_NAME="127.0.0.1")
    status = []
    connection.queries_log.clear()  # full (seeding ran thousands): would capture nothing
    with CaptureQueriesContext(connection) as queries:
        body = b"".join(application(environ, lambda s, h, *a: status.append(int(s[:3]))))
    sql = [q["sql"] for q in queries.captured_queries] if count else []
    return status[0], json.loads(body), sql


def last_cursor(path: str, token: str) -> str:
    """The cursor link of the last page, found by walking ``next`` from the first."""
    from urllib.parse import urlsplit

    here = path
    for _ in range(1000):
        status, body, _ = call(here, token)
        assert status == 200, (here, status, body)
        if not body["next"]:
            return here
        link = urlsplit(body["next"])
        here = f"{link.path}?{link.query}"
    raise RuntimeError(f"{path}: no last page after 1000")


def cases(owners: list[dict], events: int, page_size: int = 50) -> dict[str, dict]:
    """Per case: the paths (with their owner's token) for ours and for the peer."""
    last = -(-events // page_size)
    per_listing = [(o["token"], pk) for o in owners for pk in o["listings"]]
    out: dict[str, dict] = {}
    for name, query in (("events page 1", ""), (f"events page {last}", f"&page={last}")):
        out[name] = {
            side: [(f"{base}events/?listing={pk}{query}", t) for t, pk in per_listing]
            for side, base in (("ours", OURS), ("peer", PEER))
        }
    out["events cursor start"] = {
        "ours": [(f"{OURS}events/?listing={pk}&cursor=", t) for t, pk in per_listing],
        "peer": [(f"{PEER_CURSOR}events/?listing={pk}", t) for t, pk in per_listing],
    }
    out["events cursor last"] = {
        side: [(last_cursor(p, t), t) for p, t in out["events cursor start"][side]]
        for side in ("ours", "peer")
    }
    for kind in ("listings", "feeds"):
        tokens = [o["token"] for o in owners]
        out[f"{kind} page 1"] = {
            "ours": [(f"{OURS}{kind}/", t) for t in tokens],
            "peer": [(f"{PEER}{kind}/", t) for t in tokens],
        }
        out[f"{kind} cursor start"] = {
            "ours": [(f"{OURS}{kind}/?cursor=", t) for t in tokens],
            "peer": [(f"{PEER_CURSOR}{kind}/", t) for t in tokens],
        }
    return out


def statements(name: str, case: dict) -> dict:
    """SQL per page, one sample request per side; both sides must answer the same rows."""
    out, ids = {}, {}
    for side in ("ours", "peer"):
        path, token = case[side][0]
        status, body, sql = call(path, token, count=True)
        assert status == 200, (side, path, status, body)
        ids[side] = sorted(row["id"] for row in body["results"])
        out[side] = {
            "path": path,
            "statements": len(sql),
            "counts": sum("COUNT(*)" in q.upper() for q in sql),
            "sql": [q[:300] for q in sql],
        }
    assert ids["ours"] == ids["peer"], f"{name}: ours and the peer answer different rows"
    assert all(row["statements"] for row in out.values()), f"{name}: no SQL captured"
    if "cursor" in name:
        assert out["ours"]["counts"] == 0, f"{name}: a COUNT(*) on a cursor page"
    return out


# --- the server and the load ----------------------------------------------------------------
def start_gunicorn(port: int) -> subprocess.Popen:
    """As the Procfile's web (2 workers, 4 threads, access log to stdout, here discarded,
    psycopg's pool: bench_env's DATABASE_POOL=false is for workers, and without the pool
    Django checks each connection's health with a SELECT 1 per request, on both sides)."""
    env = {**os.environ, **bench_env(), "DEBUG": "false", "API_THROTTLE_REALTIME": "1200/minute"}
    env["DATABASE_POOL"] = "true"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", APP, "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "4", "--access-logfile", "-"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    for _ in range(150):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            time.sleep(1.5)  # both workers booted
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
        proc.wait(timeout=5)


def wrk(base: str, requests_: list, *, seconds: float, clients: int, server) -> dict:
    """One wrk run over ``requests_`` (path, token), in a shuffled rotation."""
    rows = list(requests_)
    random.Random(7).shuffle(rows)
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "paths.txt"
        listing.write_text("".join(f"{path} {token}\n" for path, token in rows))
        script = Path(tmp) / "case.lua"
        script.write_text(WRK_SCRIPT % {"paths": listing})
        before_server, before_client = cpu_seconds(server.pid), _children_cpu()
        started = time.monotonic()
        out = subprocess.run(
            ["wrk", "-t1", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--latency",
             "-s", str(script), base],
            capture_output=True, text=True, timeout=seconds + 60, check=True,
        ).stdout  # fmt: skip
        elapsed = time.monotonic() - started
        server_cpu = cpu_seconds(server.pid) - before_server
        client_cpu = _children_cpu() - before_client
    done = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": done,
        "per_second": round(done / elapsed, 1),
        **{f"p{q}_ms": _wrk_ms(out, q) for q in (50, 99)},
        "errors": int(errors.group(1)) if errors else 0,
        "server_cpu_ms_per_request": round(server_cpu / max(done, 1) * 1000, 2),
        "server_cpu_share": round(server_cpu / elapsed, 2),
        "wrk_cpu_share": round(client_cpu / elapsed, 2),
        "load_avg": os.getloadavg()[0],
    }


def _wrk_ms(out: str, quantile: int) -> float:
    value, unit = re.search(rf"^\s+{quantile}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
    return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(name: str, case: dict, args, base: str, server) -> dict:
    """``--rounds`` of ours and the peer, alternating who goes first; totals and ratio."""
    runs: dict[str, list] = {"ours": [], "peer": []}
    for n in range(args.rounds):
        for side in ("ours", "peer") if n % 2 == 0 else ("peer", "ours"):
            runs[side].append(
                wrk(base, case[side], seconds=args.seconds, clients=args.clients, server=server)
            )
    sides = {side: _combine(rows) for side, rows in runs.items()}
    ratio = round(sides["ours"]["per_second"] / sides["peer"]["per_second"], 2)
    cpu_ratio = round(
        sides["peer"]["server_cpu_ms_per_request"] / sides["ours"]["server_cpu_ms_per_request"],
        2,
    )
    print(
        f"{name:<22} ours {_line(sides['ours'])}\n{'':<22} peer {_line(sides['peer'])}\n"
        f"{'':<22} ratio {ratio} (requests/s), {cpu_ratio} (peer CPU/ours per request)",
        flush=True,
    )
    return {"case": name, **sides, "ratio": ratio, "cpu_ratio": cpu_ratio, "runs": runs}


def _combine(rows: list[dict]) -> dict:
    """The rounds together: requests/s over all, the median round's latencies."""
    mid = sorted(rows, key=lambda r: r["per_second"])[len(rows) // 2]
    total = sum(r["requests"] for r in rows)
    cpu = sum(r["server_cpu_ms_per_request"] * r["requests"] for r in rows) / max(total, 1)
    return {
        "per_second": round(sum(r["per_second"] for r in rows) / len(rows), 1),
        "p50_ms": mid["p50_ms"],
        "p99_ms": mid["p99_ms"],
        "errors": sum(r["errors"] for r in rows),
        "server_cpu_ms_per_request": round(cpu, 2),
        "wrk_cpu_share": max(r["wrk_cpu_share"] for r in rows),
        "load_avg": [r["load_avg"] for r in rows],
    }


def _line(side: dict) -> str:
    return (
        f"{side['per_second']:>7} req/s  p50 {side['p50_ms']} ms  p99 {side['p99_ms']} ms  "
        f"CPU {side['server_cpu_ms_per_request']} ms/req  wrk {side['wrk_cpu_share']} cores  "
        f"errors {side['errors']}  load {side['load_avg']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--owners", type=int, default=100)
    parser.add_argument("--listings", type=int, default=3, help="listings per owner")
    parser.add_argument("--events", type=int, default=300, help="events per listing")
    parser.add_argument("--seconds", type=float, default=15.0, help="per run")
    parser.add_argument("--rounds", type=int, default=2, help="runs per side and case")
    parser.add_argument("--clients", type=int, default=8, help="wrk connections")
    parser.add_argument("--port", type=int, default=18510)
    parser.add_argument("--only", nargs="*", help="case names to run (default: all)")
    parser.add_argument("--report", default="api_lists")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up on a kill

    setup_django()
    owners = seed(args.owners, args.listings, args.events)
    all_cases = cases(owners, args.events)
    chosen = {k: v for k, v in all_cases.items() if not args.only or k in args.only}
    sql = {name: statements(name, case) for name, case in chosen.items()}
    for name, row in sql.items():
        print(f"{name:<22} SQL ours {row['ours']['statements']} (COUNT {row['ours']['counts']})"
              f"  peer {row['peer']['statements']} (COUNT {row['peer']['counts']})")  # fmt: skip
    server = start_gunicorn(args.port)
    base = f"http://127.0.0.1:{args.port}"
    results = []
    try:
        wrk(base, chosen[next(iter(chosen))]["ours"], seconds=3, clients=2, server=server)
        for name, case in chosen.items():
            results.append(measure(name, case, args, base, server))
    finally:
        stop(server)
    report = {
        "config": {
            **vars(args),
            "server": "gunicorn bench.api_lists_peer:application --workers 2 --threads 4",
            "wrk": f"wrk -t1 -c{args.clients} (same machine)",
            "command": " ".join([".venv/bin/python", "bench/api_lists.py", *sys.argv[1:]]),
            "cores": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        },
        "cases": results,
        "sql": sql,
        "lowest_ratio": min((r["ratio"] for r in results), default=None),
    }
    print(f"lowest ratio: {report['lowest_ratio']}  report: {write_report(args.report, report)}")


if __name__ == "__main__":
    main()
