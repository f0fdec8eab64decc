"""A local stand-in for market-data providers (``manage.py marketsim``); see server.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from market.marketsim.server import MarketSimServer

__all__ = ["MarketSimServer", "make_server", "running_server"]


def make_server(port: int = 0, **options) -> tuple[MarketSimServer, threading.Thread]:
    """Start a simulator on 127.0.0.1:``port`` (0: any free port) in a daemon thread.

    Returns (server, thread); stop it with ``server.shutdown(); server.server_close()``.
    """
    server = MarketSimServer(port, **options)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return server, thread


@contextmanager
def running_server(**options) -> Iterator[MarketSimServer]:
    server, thread = make_server(**options)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
