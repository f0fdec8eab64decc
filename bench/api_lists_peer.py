"""The bare DRF peer of bench/api_lists.py, and the WSGI entry point that serves it beside
the app from one gunicorn (nothing here ships: only the bench loads this module).

    gunicorn bench.api_lists_peer:application     (bench/api_lists.py starts it)

Paths under ``/bare/`` go to the peer; everything else to config.wsgi's application, as in
production. The peer is plain DRF over the same tables and fields: ModelSerializers,
ReadOnlyModelViewSets, the same auth class (knox tokens), IsAuthenticated, 50 rows a page;
its querysets are filtered by owner (and by listing for events) and nothing else: no
throttles, no filter backend, no schema extras, and Django's default middleware (as
``startproject`` writes it) instead of ours. ``/bare/api/v1/`` pages by number,
``/bare/cursor/api/v1/`` by DRF's CursorPagination in id order.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

ours = get_wsgi_application()  # django.setup() first: the models below need the registry

from django.urls import include, path  # noqa: E402
from rest_framework import pagination, permissions, serializers, viewsets  # noqa: E402
from rest_framework.routers import SimpleRouter  # noqa: E402
from rest_framework.settings import api_settings  # noqa: E402

from calendars.models import Event, Feed, Listing  # noqa: E402

PREFIX = "/bare/"
PAGE_SIZE = 50
# Django's default middleware (django-admin startproject), for a bare app.
BARE_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


class ListingSerializer(serializers.ModelSerializer):
    export_url = serializers.SerializerMethodField()

    class Meta:
        model = Listing
        fields = [
            "id",
            "name",
            "timezone",
            "check_in_time",
            "check_out_time",
            "export_url",
            "previous_export_expires_at",
            "created_at",
        ]

    def get_export_url(self, listing):
        return self.context["request"].build_absolute_uri(listing.export_path)


class FeedSerializer(serializers.ModelSerializer):
    effective_interval_seconds = serializers.DurationField(source="effective_interval")

    class Meta:
        model = Feed
        fields = [
            "id",
            "listing",
            "url",
            "source",
            "name",
            "export_back",
            "event_kind",
            "created_at",
            "tier",
            "last_synced_at",
            "last_success_at",
            "next_sync_at",
            "consecutive_failures",
            "paused",
            "pause_reason",
            "last_error",
            "last_import",
            "empty_since",
            "change_rate",
            "effective_interval_seconds",
        ]


class EventSerializer(serializers.ModelSerializer):
    listing = serializers.IntegerField(source="feed.listing_id")
    effective_kind = serializers.ReadOnlyField()

    class Meta:
        model = Event
        fields = [
            "id",
            "uid",
            "feed",
            "listing",
            "start",
            "end",
            "all_day",
            "summary",
            "status",
            "blocking",
            "kind",
            "kind_override",
            "effective_kind",
            "echo_of",
        ]


class NumberPages(pagination.PageNumberPagination):
    page_size = PAGE_SIZE


class CursorPages(pagination.CursorPagination):
    page_size = PAGE_SIZE
    ordering = "pk"


class Bare(viewsets.ReadOnlyModelViewSet):
    authentication_classes = api_settings.DEFAULT_AUTHENTICATION_CLASSES[:1]  # the token
    permission_classes = [permissions.IsAuthenticated]
    throttle_classes: list = []
    filter_backends: list = []
    pagination_class = NumberPages


class Listings(Bare):
    queryset = Listing.objects.order_by("name", "pk")
    serializer_class = ListingSerializer

    def get_queryset(self):
        return super().get_queryset().filter(owner=self.request.user)


class Feeds(Bare):
    queryset = Feed.objects.order_by("pk")
    serializer_class = FeedSerializer

    def get_queryset(self):
        return super().get_queryset().filter(listing__owner=self.request.user)


class Events(Bare):
    queryset = Event.objects.select_related("feed").order_by("start", "pk")
    serializer_class = EventSerializer

    def get_queryset(self):
        rows = super().get_queryset().filter(feed__listing__owner=self.request.user)
        listing = self.request.query_params.get("listing")
        return rows.filter(feed__listing_id=listing) if listing else rows


def _router(cursor: bool) -> SimpleRouter:
    router = SimpleRouter()
    for name, view in (("listings", Listings), ("feeds", Feeds), ("events", Events)):
        if cursor:
            view = type(f"Cursor{view.__name__}", (view,), {"pagination_class": CursorPages})
        router.register(name, view, basename=f"bare-{'cursor-' if cursor else ''}{name}")
    return router


urlpatterns = [
    path("bare/api/v1/", include(_router(cursor=False).urls)),
    path("bare/cursor/api/v1/", include(_router(cursor=True).urls)),
    path("", include("config.urls")),  # after the peer's: for reverse() (export_url)
]


class BareHandler(WSGIHandler):
    """Django's WSGI handler with the default middleware and this module's urls."""

    def load_middleware(self, is_async=False):
        ours_ = settings.MIDDLEWARE
        settings.MIDDLEWARE = BARE_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = ours_

    def get_response(self, request):
        request.urlconf = __name__
        return super().get_response(request)


bare = BareHandler()


def application(environ, start_response):
    handler = bare if environ.get("PATH_INFO", "").startswith(PREFIX) else ours
    return handler(environ, start_response)
