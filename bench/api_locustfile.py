"""Locust users for bench/api.py (not run on its own: bench/api.py seeds the database, writes
the seed file named by API_BENCH_SEED and starts gunicorn and locust).

The mix, weighted like the traffic a deployment sees (one locust user stands for many
clients; no waits between requests, so the run measures the server's limit):
- channels polling listings' exports (weight 14): a channel keeps the ETag and
  Last-Modified it was given and sends them back (If-None-Match / If-Modified-Since), so
  nearly every poll is a 304; one poll in ten comes without validators (a channel that
  does not keep them) and gets the whole body;
- integrators reading the API with a knox token (weight 4): events of a listing, the
  listings, the feeds;
- owners on their pages with a session cookie (weight 2): the calendars page, a listing's
  month, the dashboard.
"""

from __future__ import annotations

import json
import os
import random

from locust import HttpUser, constant, task

SEED = json.loads(open(os.environ["API_BENCH_SEED"]).read())  # noqa: SIM115 - read once


class Traffic(HttpUser):
    wait_time = constant(0)

    def on_start(self) -> None:
        self.rng = random.Random()
        # Channels have polled before: they hold each export's validators (bench/api.py).
        self.validators = {path: tuple(v) for path, v in SEED["validators"].items()}

    def _owner(self) -> dict:
        return self.rng.choice(SEED["owners"])

    @task(14)
    def channel_polls_export(self) -> None:
        path = self.rng.choice(SEED["exports"])
        headers = {"Accept-Encoding": "gzip"}
        known = self.validators.get(path)
        fresh = known is None or self.rng.random() < 0.1
        if not fresh:
            etag, modified = known
            headers["If-None-Match"] = etag
            if modified:
                headers["If-Modified-Since"] = modified
        name = "export (no validators)" if fresh else "export (conditional)"
        with self.client.get(path, headers=headers, name=name, catch_response=True) as r:
            if r.status_code == 200:
                self.validators[path] = (r.headers.get("ETag", ""), r.headers.get("Last-Modified"))
                r.success()
            elif r.status_code == 304:
                r.success()
            else:
                r.failure(f"status {r.status_code}")

    @task(4)
    def integrator_reads_api(self) -> None:
        owner = self._owner()
        headers = {"Authorization": f"Token {owner['token']}"}
        choice = self.rng.random()
        if choice < 0.6:
            listing = self.rng.choice(owner["listings"])
            self.client.get(
                f"/api/v1/events/?listing={listing}", headers=headers, name="api events"
            )
        elif choice < 0.8:
            self.client.get("/api/v1/listings/", headers=headers, name="api listings")
        else:
            self.client.get("/api/v1/feeds/", headers=headers, name="api feeds")

    @task(2)
    def owner_pages(self) -> None:
        owner = self._owner()
        cookies = {"sessionid": owner["session"]}
        choice = self.rng.random()
        if choice < 0.5:
            self.client.get("/calendars/", cookies=cookies, name="page calendars")
        elif choice < 0.8:
            listing = self.rng.choice(owner["listings"])
            self.client.get(
                f"/calendars/listings/{listing}/month/", cookies=cookies, name="page month"
            )
        else:
            self.client.get("/dashboard/", cookies=cookies, name="page dashboard")
