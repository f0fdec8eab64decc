"""A farm of synthetic channel feeds for the demo, tests and benchmarks (issue 3).

    body = generate_feed(7, style="airbnb", events=100, version=2, today=date(2025, 7, 1))
    server = make_server(0, feeds=1000)   # 127.0.0.1 only; serve_forever() in a thread

``python manage.py feedfarm --port 8200 --feeds N`` runs the server from the shell.
"""

from calendars.feedfarm.generate import STYLES, default_style, generate_feed
from calendars.feedfarm.server import FeedFarm, FeedFarmServer, make_server, serving

__all__ = [
    "STYLES",
    "FeedFarm",
    "FeedFarmServer",
    "default_style",
    "generate_feed",
    "make_server",
    "serving",
]
