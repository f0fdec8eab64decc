"""Demo data seeders for ``manage.py demo``: ``Domain.demo_seeder`` in each domain's
kinds.py (syncing.domains)."""

from __future__ import annotations

from collections.abc import Callable

_seeders: list[tuple[str, Callable]] = []


def register_seeder(name: str, seeder: Callable) -> None:
    """``seeder(owner)`` creates a few items of the app's kinds; it must be idempotent."""
    _seeders[:] = [(n, s) for n, s in _seeders if n != name]
    _seeders.append((name, seeder))


def seeders() -> list[tuple[str, Callable]]:
    return list(_seeders)
