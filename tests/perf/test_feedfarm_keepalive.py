"""The feed farm answers kept-alive requests without a Nagle/delayed-ACK stall (~40 ms)."""

from __future__ import annotations

import http.client
import statistics
import time

from calendars.feedfarm import serving


def test_full_responses_on_one_kept_alive_connection_do_not_stall():
    with serving(feeds=5, events=100) as server:
        host, port = server.server_address[:2]
        connection = http.client.HTTPConnection(host, port, timeout=5)
        timings = []
        for i in range(20):
            started = time.perf_counter()
            connection.request("GET", f"/feeds/{i % 5 + 1}.ics")
            response = connection.getresponse()
            body = response.read()
            timings.append(time.perf_counter() - started)
            assert response.status == 200 and body.startswith(b"BEGIN:VCALENDAR")
        connection.close()
    # With Nagle on, every response after the first waits ~40 ms for the delayed ACK.
    assert statistics.median(timings[1:]) < 0.02, timings
