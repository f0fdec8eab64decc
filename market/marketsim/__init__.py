"""A local stand-in for market-data providers (``manage.py marketsim``); see server.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from market.marketsim.server import MarketSimServer
from syncing.serving import serving

__all__ = ["MarketSimServer", "running_server"]


@contextmanager
def running_server(port: int = 0, **options) -> Iterator[MarketSimServer]:
    """A simulator on 127.0.0.1:``port`` (0: any free port) for the with-block."""
    with serving(MarketSimServer(port, **options), name="marketsim") as server:
        yield server
