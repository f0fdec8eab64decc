"""Kinds registered for one test only (``temporary_kind`` in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from syncing.kinds import Kind, UnknownKind, get_kind, register, unregister


@contextmanager
def registered_kind(kind: Kind) -> Iterator[Kind]:
    """Register ``kind`` for the block; afterwards its name gets back what it had before:
    nothing (a test kind), or the original (a test that replaced a real kind's settings)."""
    try:
        previous = get_kind(kind.name)
    except UnknownKind:
        previous = None
    register(kind)
    try:
        yield kind
    finally:
        if previous is None:
            unregister(kind.name)
        else:
            register(previous)
