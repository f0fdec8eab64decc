"""Owner pages show times in the owner's own zone: the browser says which (a ``tz`` cookie
set by static/js/syncbeat.js), and this middleware activates it for the page.

The API, the admin and everything else keep UTC (API clients read ISO 8601 with "Z").
"""

from __future__ import annotations

import zoneinfo

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from syncing.validation import is_known_zone

COOKIE = "tz"
KEEP_UTC = ("/api/", "/admin/", "/metrics", "/healthz")


class BrowserTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = request.COOKIES.get(COOKIE, "")
        if not name or request.path.startswith(KEEP_UTC) or not is_known_zone(name):
            return self.get_response(request)
        with timezone.override(zoneinfo.ZoneInfo(name)):
            return self.get_response(request)
