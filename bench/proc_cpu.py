"""CPU of the whole box by part, from /proc: what a round cost PostgreSQL, Redis and the
bench's own process (the feed farm's thread and the harness), beside the workers' CPU the
benches already read. A rate on a 2-core box is bounded by the CPU of every part, not the
workers' alone: bench/bare_compare.py's changed round read 0.75 of the peer's rate while its
workers used less CPU than the peer's, because PostgreSQL spent 16 ms a feed against 1.6.

PostgreSQL's figure counts its live processes and, through the postmaster, the backends that
ended (their CPU is added to its children's times when they are reaped)."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> tuple[str, int, float, float] | None:
    """(command name, parent pid, own CPU s, reaped children's CPU s) of a process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    own = (int(fields[11]) + int(fields[12])) / TICK
    reaped = (int(fields[13]) + int(fields[14])) / TICK
    return comm, int(fields[1]), own, reaped


def cpu_by_part(worker_pids: set[int] = frozenset()) -> dict[str, float]:
    """CPU seconds so far of: postgres, redis, bench (this process), workers (``worker_pids``
    and their children), other."""
    me = os.getpid()
    stats = {int(pid): _stat(pid) for pid in os.listdir("/proc") if pid.isdigit()}
    stats = {pid: s for pid, s in stats.items() if s is not None}
    workers = set(worker_pids) | {pid for pid, s in stats.items() if s[1] in worker_pids}
    parts = {"postgres": 0.0, "redis": 0.0, "bench": 0.0, "workers": 0.0, "other": 0.0}
    for pid, (comm, ppid, own, reaped) in stats.items():
        if pid == me:
            parts["bench"] += own
        elif pid in workers:
            parts["workers"] += own
        elif comm.startswith("postgres"):
            # The postmaster's reaped children are its ended backends.
            is_postmaster = not stats.get(ppid, ("",))[0].startswith("postgres")
            parts["postgres"] += own + (reaped if is_postmaster else 0.0)
        elif comm.startswith("redis"):
            parts["redis"] += own
        else:
            parts["other"] += own
    return parts


def per_item_ms(before: dict[str, float], after: dict[str, float], items: int) -> dict:
    """CPU ms per item of each part between two ``cpu_by_part`` readings, and their total."""
    row = {k: round((after[k] - before[k]) * 1000 / max(items, 1), 3) for k in before}
    row["total"] = round(sum(row.values()), 3)
    return row
