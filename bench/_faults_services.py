"""Private services for the fault suite: a Redis and a PostgreSQL cluster of its own.

The shared Redis (6379) and PostgreSQL (5432) are never stopped: the suite starts its own
``redis-server`` (default port 6390, the same options as ``.ci/run``) and its own PostgreSQL
cluster under /tmp (default port 5440, initdb + pg_ctl), restarts those, and stops them at
the end. RabbitMQ is used through a vhost of its own on the machine's broker.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up within {timeout:.0f} s")


class PrivateRedis:
    """A ``redis-server`` child on its own port, with .ci/run's options (no persistence)."""

    def __init__(self, port: int, workdir: Path):
        self.port = port
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def command(self) -> list[str]:
        return [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            "--logfile",
            str(self.workdir / f"redis-{self.port}.log"),
        ]

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        if _answers(self.port):
            raise RuntimeError(f"port {self.port} is taken: pick another with --redis-port")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(self.command, start_new_session=True)
        _wait(lambda: _answers(self.port), 15, f"redis on {self.port}")

    def shutdown_nosave(self) -> None:
        """``SHUTDOWN NOSAVE``: every queued message is gone, as after a crash."""
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "SHUTDOWN", "NOSAVE"],
            capture_output=True,
            timeout=10,
        )
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def restart(self, down_seconds: float) -> None:
        self.shutdown_nosave()
        time.sleep(down_seconds)
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.shutdown_nosave()


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else (shutil.which(name) or name)


class PrivatePostgres:
    """A throwaway PostgreSQL cluster under /tmp, run as the ``postgres`` user when root."""

    def __init__(self, port: int, datadir: Path):
        self.port = port
        self.datadir = datadir

    def url(self, db: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> None:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=check, capture_output=True, timeout=timeout)

    def init(self) -> None:
        if _answers(self.port):
            raise RuntimeError(f"port {self.port} is taken: pick another with --pg-port")
        if self.datadir.exists():
            shutil.rmtree(self.datadir)
        self.datadir.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.datadir, "postgres", "postgres")
        self._run(_pg_bin("initdb"), "-D", str(self.datadir), "-A", "trust", "-U", "postgres")
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off"
        options += " -c max_connections=200"
        log = str(self.datadir / "server.log")
        self._run(
            _pg_bin("pg_ctl"), "-D", str(self.datadir), "-o", options, "-l", log, "-w", "start"
        )
        _wait(lambda: _answers(self.port), 30, f"postgres on {self.port}")

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop", check=False)

    def restart(self, down_seconds: float) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.datadir, ignore_errors=True)


def rabbitmq_vhost(name: str) -> str:
    """Create (or empty) a vhost for the run; returns its URL. Needs ``rabbitmqctl``."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise RuntimeError("rabbitmqctl not found: cannot make a vhost of our own")
    subprocess.run([ctl, "delete_vhost", name], capture_output=True, timeout=60)
    subprocess.run([ctl, "add_vhost", name], check=True, capture_output=True, timeout=60)
    subprocess.run(
        [ctl, "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return f"amqp://guest:guest@127.0.0.1:5672/{name}"


def drop_rabbitmq_vhost(name: str) -> None:
    ctl = shutil.which("rabbitmqctl")
    if ctl:
        subprocess.run([ctl, "delete_vhost", name], capture_output=True, timeout=60)
