"""One way to run a local HTTP server in a thread for a with-block.

The simulators (the feed farm, the market simulator, the speech server), the suite's own
local servers and the benches all serve the same way: bound on 127.0.0.1 before the block,
``serve_forever`` in a daemon thread during it, shut down and closed after it, whatever
happened inside.

    with serving(make_server(0, feeds=100)) as farm:
        fetch(farm.base_url + "/feeds/1.ics")
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from socketserver import BaseServer
from typing import TypeVar

S = TypeVar("S", bound=BaseServer)


@contextmanager
def serving(server: S, *, name: str = "local-server", poll_interval: float = 0.05) -> Iterator[S]:
    """Serve ``server`` (already bound) in a thread until the block ends, then close it."""
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": poll_interval},
        name=name,
        daemon=True,
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
