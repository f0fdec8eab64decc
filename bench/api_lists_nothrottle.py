"""bench/api_lists_peer.py's application with our plan throttle answering "allowed" without
Redis: only for bench/api_lists_costs.py's ``--no-throttle`` (what the round trip costs)."""

from __future__ import annotations

from bench.api_lists_peer import application  # noqa: F401
from syncing import throttling

throttling.PlanApiThrottle.allow_request = lambda self, request, view: True
