"""A short run of the fault suite (bench/faults.py) that CI can afford: no item is lost.

Real processes: two workers and beat on a Redis and a PostgreSQL cluster of the suite's own
(free ports, under /tmp; the shared services are never touched). Workers are killed with
``kill -9`` (a pool child, then a main process) during fan-out; every item must have synced
by the end, within the recovery bound. Leases are 15 s instead of the default 60 s: a killed
main process's items wait out their lease, and a quarter of the wait halves the test (about
40 s on an idle 2-core box, twice in CI); that the default lease brings a dead worker's
items back within a minute is tests/syncing/test_recovery.py's. The full run (5,000 items;
Redis and PostgreSQL restarts, two beats, duplicate deliveries, RabbitMQ) is
``.venv/bin/python bench/faults.py``.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.worker import ROOT, on_rabbitmq

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

TOOLS = ("redis-server", "redis-cli", "psql", "pg_isready")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _missing_tools() -> list[str]:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if not (list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or shutil.which("initdb")):
        missing.append("initdb")
    return missing


@pytest.fixture
def run_suite(tmp_path):
    missing = _missing_tools()
    if missing:
        pytest.skip(f"the fault suite needs {', '.join(missing)}")

    def run(*args: str) -> list[dict]:
        out = tmp_path / "faults.json"
        command = [
            sys.executable,
            "bench/faults.py",
            *args,
            "--redis-port",
            str(_free_port()),
            "--pg-port",
            str(_free_port()),
            "--workdir",
            str(tmp_path / "work"),
            "--no-report",
            "--output",
            str(out),
        ]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=280)
        assert out.exists(), f"the suite wrote no report:\n{done.stdout}\n{done.stderr[-3000:]}"
        return json.loads(out.read_text())["results"]

    return run


def test_workers_killed_mid_chunk_lose_no_item(run_suite):
    """A pool child, then a worker's main process, killed with -9 during the fan-out (on
    RabbitMQ's quorum queues, in a vhost of the suite's own, when the test broker is)."""
    scenario = "rabbitmq" if on_rabbitmq() else "kill"
    if on_rabbitmq() and shutil.which("rabbitmqctl") is None:
        pytest.skip("the fault suite on RabbitMQ needs rabbitmqctl (a vhost of its own)")
    results = run_suite(
        "--items", "1000", "--batch", "250", "--scenarios", scenario,
        "--kills", "2", "--kill-every", "3", "--recovery-timeout", "75", "--lease", "15",
    )  # fmt: skip
    assert [r["scenario"] for r in results] == [scenario]
    for result in results:
        assert "error" not in result, result
        assert result["items"] == 1000
        assert result["unsynced_at_end"] == 0, (result["scenario"], result["recovery"])
        assert result["recovery"]["not_recovered"] == 0
