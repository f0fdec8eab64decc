"""The bare peer of bench/export.py: Django with this project's settings and middleware,
one view answering a fixed body of the export's size (200) or, given If-None-Match, a 304;
no query, no cache. Served by the same gunicorn command, it shows what is left to take:
the export's rate over this one's.

    gunicorn --pythonpath bench export_peer:application   (bench/export.py starts it)

``EXPORT_PEER_BYTES`` sets the body's size (bench/export.py passes the export's).
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

BODY = b"X" * int(os.environ.get("EXPORT_PEER_BYTES", "60000"))
ETAG = '"peer"'


def fixed(request, token: str) -> HttpResponse:
    if request.headers.get("If-None-Match") == ETAG:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(BODY, content_type="text/calendar; charset=utf-8")
    response["ETag"] = ETAG
    return response


urlpatterns = [path("calendars/<str:token>.ics", fixed)]

application = get_wsgi_application()
settings.ROOT_URLCONF = __name__
