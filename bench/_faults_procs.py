"""Real Celery processes for the fault suite: workers and beats, and a supervisor for them.

The supervisor plays systemd's ``Restart=always``: a process that exits is started again
with the same command line, and every exit it did not cause on purpose is counted.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class CeleryProcess:
    name: str
    args: list[str]
    env: dict
    logdir: Path
    process: subprocess.Popen | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.logdir / f"{self.name}.log", "a")  # noqa: SIM115 (the child owns it)
        log.write(f"\n--- start {self.starts} at {time.time():.3f}\n")
        log.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *self.args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def last_error(self) -> str:
        """The last line of the log that names an error (why it exited, usually)."""
        text = (self.logdir / f"{self.name}.log").read_text(errors="replace")
        lines = [ln for ln in text.splitlines() if "Error" in ln or "error" in ln]
        return lines[-1][-300:] if lines else ""

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def children(self) -> list[int]:
        if self.process is None:
            return []
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        return [int(p) for p in out.split()]

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def stop(self) -> None:
        if self.process is None:
            return
        self.kill_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill_group(signal.SIGKILL)
            self.process.wait(timeout=10)
        self.kill_group(signal.SIGKILL)  # pool children left behind, if any


def worker(name: str, env: dict, logdir: Path, *, concurrency: int = 2) -> CeleryProcess:
    args = [
        "worker",
        "-Q",
        "dispatch,urgent,cpu,default",
        "-c",
        str(concurrency),
        "-l",
        "info",
        "--without-gossip",
        "--without-mingle",
        "-n",
        f"{name}-{os.getpid()}@%h",
    ]
    return CeleryProcess(name, args, env, logdir)


def beat(name: str, env: dict, logdir: Path) -> CeleryProcess:
    return CeleryProcess(
        name, ["beat", "-l", "info", "--pidfile=", "--max-interval", "1"], env, logdir
    )


@dataclass
class Supervisor:
    """Restarts any exited process after ``delay`` seconds; counts unplanned exits."""

    processes: list[CeleryProcess]
    delay: float = 1.0
    unplanned_exits: list[dict] = field(default_factory=list)
    _planned: set[int] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        for p in self.processes:
            p.start()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def expect_exit(self, pid: int) -> None:
        self._planned.add(pid)

    def _loop(self) -> None:
        while not self._stop.wait(0.25):
            for p in self.processes:
                if p.process is None or p.alive:
                    continue
                pid = p.process.pid
                if pid not in self._planned:
                    self.unplanned_exits.append(
                        {
                            "process": p.name,
                            "code": p.process.returncode,
                            "at": time.time(),
                            "last_error": p.last_error(),
                        }
                    )
                p.kill_group()  # orphaned pool children go with their main process
                time.sleep(self.delay)
                if not self._stop.is_set():
                    p.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for p in self.processes:
            p.stop()


def kill_mid_chunk(sup: Supervisor, workers: list[CeleryProcess], main: bool) -> dict:
    """SIGKILL a pool child (``main`` False) or a worker's main process; returns what."""
    live = [w for w in workers if w.alive and w.children()]
    if not live:
        return {"at": time.time(), "target": "none alive"}
    target = random.choice(live)
    if main:
        pid = target.process.pid
        sup.expect_exit(pid)
        os.kill(pid, signal.SIGKILL)
        return {"at": time.time(), "target": f"{target.name} main", "pid": pid}
    pid = random.choice(target.children())
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return {"at": time.time(), "target": f"{target.name} pool child", "pid": pid}
