"""Owner pages (listings, feeds, month view, conflicts) and the public merged export."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import http_date, parse_http_date_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from calendars import selectors
from calendars.forms import FeedForm, ListingForm
from calendars.kinds import FEED_KIND
from calendars.models import Conflict, Event, EventKind, Listing, Source
from calendars.services import dismissals as dismissal_services
from calendars.services import export as export_service
from calendars.services import import_summary
from calendars.services import kinds as kind_services
from calendars.services import listings as listing_services
from calendars.services.conflicts import refresh_conflicts
from calendars.services.maintenance import maintenance_during_stays
from syncing.services.resume import item_resume

# The conflicts page notes maintenance booked during a stay this many days ahead.
CONFLICTS_NOTES_DAYS = 120

# --- the public export --------------------------------------------------------------------


@require_http_methods(["GET", "HEAD"])
def export_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The listing's merged calendar, for the channels to import. The token is the secret.

    Conditional (If-None-Match, else If-Modified-Since: 304 without building the body when
    the validators are current) and gzip-encoded when the client accepts it."""
    listing = export_service.listing_for_token(token)
    if listing is None:
        return HttpResponse("No such calendar.", status=404, content_type="text/plain")
    try:
        document = export_service.export_document(listing, leave_out=request.GET.get("for") or None)
    except export_service.UnknownChannel:
        return HttpResponseBadRequest(
            f"Unknown channel; use for= one of {', '.join(Source.values)}.",
            content_type="text/plain",
        )
    gzipped = export_service.accepts_gzip(request.headers.get("Accept-Encoding", ""))
    headers = {
        "ETag": document.gzip_etag if gzipped else document.etag,
        "Last-Modified": http_date(document.last_modified.timestamp()),
        "Cache-Control": export_service.CACHE_CONTROL,
        "Vary": "Accept-Encoding",
    }
    if export_service.not_modified(
        document,
        if_none_match=request.headers.get("If-None-Match", ""),
        if_modified_since=parse_http_date_safe(request.headers.get("If-Modified-Since", "")),
    ):
        response = HttpResponse(status=304)
    else:
        body = export_service.export_body(listing, document, gzipped=gzipped)
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="{listing.pk}.ics"'
        if gzipped:
            response["Content-Encoding"] = "gzip"
    for key, value in headers.items():
        response[key] = value
    return response


# --- owner pages --------------------------------------------------------------------------


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    listings = selectors.listings_overview(request.user)
    for listing in listings:
        listing.export_url = request.build_absolute_uri(listing.export_path)
    return render(
        request,
        "calendars/index.html",
        {
            "listings": listings,
            "sources": Source.choices,
            "now": timezone.now(),
            "grace_days": settings.EXPORT_LINK_GRACE_DAYS,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def listing_create(request: HttpRequest) -> HttpResponse:
    form = ListingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            listing = listing_services.listing_create(
                owner=request.user,
                name=form.cleaned_data["name"],
                timezone_name=form.cleaned_data["timezone"],
            )
        except listing_services.AllowanceExceeded as exc:
            form.add_error(None, str(exc))
        else:
            Listing.objects.filter(pk=listing.pk).update(
                check_in_time=form.cleaned_data["check_in_time"],
                check_out_time=form.cleaned_data["check_out_time"],
            )
            messages.success(request, f"Listing “{listing.name}” added. Now add its feeds.")
            return redirect("calendars:index")
    return render(
        request,
        "calendars/listing_form.html",
        {"form": form, "listing": None, "timezones": form.timezone_names()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def listing_edit(request: HttpRequest, pk: int) -> HttpResponse:
    listing = selectors.listing_of_owner(request.user, pk)
    form = ListingForm(request.POST or None, instance=listing)
    if request.method == "POST" and form.is_valid():
        form.save()
        if {"timezone", "check_in_time", "check_out_time"} & set(form.changed_data):
            refresh_conflicts(listing.pk, None)  # nights are read in the zone, at these times
        messages.success(request, "Listing saved.")
        return redirect("calendars:index")
    return render(
        request,
        "calendars/listing_form.html",
        {"form": form, "listing": listing, "timezones": form.timezone_names()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def listing_delete(request: HttpRequest, pk: int) -> HttpResponse:
    listing = selectors.listing_of_owner(request.user, pk)
    if request.method == "POST":
        listing.delete()
        messages.success(request, f"Listing “{listing.name}” removed.")
        return redirect("calendars:index")
    return render(request, "calendars/confirm_delete.html", {"object": listing, "what": "listing"})


@login_required
@require_POST
def listing_regenerate_export(request: HttpRequest, pk: int) -> HttpResponse:
    listing = selectors.listing_of_owner(request.user, pk)
    listing.regenerate_export_token()
    if listing.previous_export_valid:
        until = date_format(
            timezone.localtime(listing.previous_export_expires_at), "DATETIME_FORMAT"
        )
        note = f"the old link keeps working until {until}, then stops."
    else:
        note = "the old link stopped working."
    messages.success(request, f"New export link made; paste it into every channel: {note}")
    return redirect("calendars:index")


@login_required
@require_GET
def listing_month(request: HttpRequest, pk: int) -> HttpResponse:
    listing = selectors.listing_of_owner(request.user, pk)
    first = selectors.parse_month(request.GET.get("month"), timezone.localdate())
    previous = (first.replace(day=1) - timedelta(days=1)).replace(day=1)
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    weeks = selectors.month_weeks(listing, first)
    month_events = {ev.pk: ev for week in weeks for cell in week for ev in cell.events}
    context = {
        "listing": listing,
        "month": first,
        "previous": previous,
        "following": following,
        "weeks": weeks,
        "month_events": list(month_events.values()),
        "feeds": listing.feeds.all(),
        "conflicts": selectors.open_conflicts(request.user, listing=listing),
        "dismissed": selectors.open_conflicts(request.user, listing=listing, dismissed=True),
        "maintenance_notes": maintenance_during_stays(
            [listing],
            start=datetime.combine(first, time.min, UTC),
            end=datetime.combine(following, time.min, UTC),
        ),
        "kinds": EventKind.choices,
        "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    }
    return render(request, "calendars/month.html", context)


@login_required
@require_GET
def conflicts(request: HttpRequest) -> HttpResponse:
    """Open double bookings (each with a dismiss form), the dismissed ones with their
    notes, and maintenance booked during a stay in the next CONFLICTS_NOTES_DAYS."""
    now = timezone.now()
    context = {
        "conflicts": selectors.open_conflicts(request.user),
        "dismissed": selectors.open_conflicts(request.user, dismissed=True),
        "maintenance_notes": maintenance_during_stays(
            list(selectors.owner_listings(request.user)),
            start=now,
            end=now + timedelta(days=CONFLICTS_NOTES_DAYS),
        ),
        "dismiss": True,
    }
    return render(request, "calendars/conflicts.html", context)


@login_required
@require_POST
def conflict_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    """Dismiss an open double booking with the owner's note (another owner's: 404)."""
    conflict = get_object_or_404(Conflict, pk=pk, listing__owner=request.user)
    try:
        dismissal_services.conflict_dismiss(conflict, note=request.POST.get("note", ""))
    except dismissal_services.NotOpen as exc:
        messages.warning(request, str(exc))
    else:
        messages.success(
            request, "Double booking dismissed; it comes back if either booking moves."
        )
    return redirect("calendars:conflicts")


@login_required
@require_POST
def event_kind(request: HttpRequest, pk: int) -> HttpResponse:
    """The owner's word on one event's kind ("" clears it); back to the month it is in."""
    event = get_object_or_404(
        Event.objects.select_related("feed__listing"), pk=pk, feed__listing__owner=request.user
    )
    try:
        kind_services.event_set_kind(event, request.POST.get("kind", ""))
    except kind_services.UnknownKind as exc:
        messages.warning(request, str(exc))
    else:
        messages.success(request, f"“{event.summary or event.uid}” saved.")
    month = event.start.astimezone(zoneinfo.ZoneInfo(event.feed.listing.timezone))
    url = reverse("calendars:listing_month", args=[event.feed.listing_id])
    return redirect(f"{url}?month={month:%Y-%m}")


@login_required
@require_http_methods(["GET", "POST"])
def feed_create(request: HttpRequest, pk: int) -> HttpResponse:
    listing = selectors.listing_of_owner(request.user, pk)
    form = FeedForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        values = form.changed_values()
        kind = values.pop("event_kind", "")
        try:
            feed = listing_services.feed_create(listing=listing, **values)
        except listing_services.AllowanceExceeded as exc:
            form.add_error(None, str(exc))
        else:
            if kind:
                kind_services.feed_set_event_kind(feed, kind)
            messages.success(request, "Feed added; its first sync is on its way.")
            return redirect("calendars:index")
    return render(
        request, "calendars/feed_form.html", {"form": form, "listing": listing, "feed": None}
    )


@login_required
@require_http_methods(["GET", "POST"])
def feed_edit(request: HttpRequest, pk: int) -> HttpResponse:
    feed = selectors.feed_of_owner(request.user, pk)
    form = FeedForm(request.POST or None, instance=feed)
    if request.method == "POST" and form.is_valid():
        # The ModelForm already set the values on ``feed``; the service compares with the row.
        fresh = selectors.feed_of_owner(request.user, pk)
        old_kind = fresh.event_kind
        listing_services.feed_update(fresh, changes=form.changed_values())
        if fresh.event_kind != old_kind:
            kind_services.apply_feed_kind(fresh)
        messages.success(request, "Feed saved.")
        return redirect("calendars:index")
    return render(
        request, "calendars/feed_form.html", {"form": form, "listing": feed.listing, "feed": feed}
    )


@login_required
@require_http_methods(["GET", "POST"])
def feed_delete(request: HttpRequest, pk: int) -> HttpResponse:
    feed = selectors.feed_of_owner(request.user, pk)
    if request.method == "POST":
        listing_services.feed_delete(feed)
        messages.success(request, "Feed removed, with its events.")
        return redirect("calendars:index")
    return render(request, "calendars/confirm_delete.html", {"object": feed, "what": "feed"})


@login_required
@require_POST
def feed_sync(request: HttpRequest, pk: int) -> HttpResponse:
    """Sync now. htmx swaps the feed's row (with a note); a plain POST redirects back."""
    feed = selectors.feed_of_owner(request.user, pk)
    outcome = listing_services.request_manual_sync(feed, owner=request.user)
    if outcome.paused:  # resuming is its own button: "Sync now" never resumes silently
        return _feed_reply(request, feed, "Paused: resume it to sync again.")
    if not outcome.accepted:
        note = f"Manual sync allowance used up; try again in {outcome.retry_after // 60 + 1} min."
        status = 429
    elif outcome.queued:
        note, status = "Sync queued.", 200
    else:
        note, status = "Already syncing.", 200
    if request.htmx:
        feed.refresh_from_db()
        # 200 even past the allowance: htmx does not swap 4xx bodies, and the note says it.
        response = render(
            request, "calendars/_feed_row.html", {"feed": feed, "note": note, "now": timezone.now()}
        )
        if status == 429:
            response["Retry-After"] = str(outcome.retry_after)
        return response
    (messages.warning if status == 429 else messages.success)(request, note)
    return redirect("calendars:index")


@login_required
@require_GET
def feed_row(request: HttpRequest, pk: int) -> HttpResponse:
    """The feed's table row alone: htmx polls it while a sync is queued or running."""
    feed = selectors.feed_of_owner(request.user, pk)
    return render(request, "calendars/_feed_row.html", {"feed": feed, "now": timezone.now()})


@login_required
@require_POST
def feed_resume(request: HttpRequest, pk: int) -> HttpResponse:
    """Resume a paused feed: due at once, at the front of the queue."""
    feed = selectors.feed_of_owner(request.user, pk)
    resumed = item_resume(FEED_KIND, feed.pk, owner=request.user)
    note = "Resumed; syncing now." if resumed else "It was not paused."
    feed.refresh_from_db()
    return _feed_reply(request, feed, note)


def _feed_reply(request: HttpRequest, feed, note: str) -> HttpResponse:
    if request.htmx:
        context = {"feed": feed, "note": note, "now": timezone.now()}
        return render(request, "calendars/_feed_row.html", context)
    messages.info(request, f"{feed.label}: {note}")
    return redirect("calendars:index")


@login_required
@require_GET
def feed_import(request: HttpRequest, pk: int) -> HttpResponse:
    """The feed's last import: counts in words, skipped events and why, zones, truncation."""
    feed = selectors.feed_of_owner(request.user, pk)
    last = import_summary.api_view(feed.last_import) if feed.last_import else None
    return render(
        request, "calendars/feed_import.html", {"feed": feed, "listing": feed.listing, "last": last}
    )


@login_required
@require_POST
def listing_sync(request: HttpRequest, pk: int) -> HttpResponse:
    """Sync all the listing's feeds now (one manual sync against the allowance)."""
    listing = selectors.listing_of_owner(request.user, pk)
    outcome = listing_services.request_manual_sync_all(owner=request.user, listing=listing)
    return _sync_all_reply(request, outcome)


@login_required
@require_POST
def feeds_sync_all(request: HttpRequest) -> HttpResponse:
    """Sync all the owner's feeds now (one manual sync against the allowance)."""
    return _sync_all_reply(request, listing_services.request_manual_sync_all(owner=request.user))


def _sync_all_reply(request: HttpRequest, outcome) -> HttpResponse:
    (messages.success if outcome.accepted else messages.warning)(request, outcome.detail)
    response = redirect("calendars:index")
    if not outcome.accepted:
        response["Retry-After"] = str(outcome.retry_after)
    return response
