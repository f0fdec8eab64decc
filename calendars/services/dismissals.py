"""Owners dismiss a double booking they know about ("the guests are family, they share").

A dismissed conflict stays open but quiet: no email, no alert, not counted on the pages and
dashboards, for as long as both events keep the dates they had when it was dismissed
(``Conflict.dismissed_dates``). If either moves and they still share a night, detection
resolves it and opens a new conflict: a new alert (calendars.services.conflicts).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from calendars.models import Conflict, Event, Listing
from calendars.services.conflicts import dates_digest

NOTE_MAX = 500


class NotOpen(ValueError):
    """The conflict is resolved already: nothing to dismiss."""


def conflict_dismiss(conflict: Conflict, *, note: str = "") -> Conflict:
    """Dismiss an open conflict with the owner's note (a second dismissal updates the note
    and the dates held on to). Raises NotOpen for a resolved conflict."""
    with transaction.atomic():
        # The same lock as an import: the dates read here are the ones detection compares.
        Listing.objects.select_for_update().filter(pk=conflict.listing_id).order_by().values_list(
            "pk"
        ).first()
        conflict = Conflict.objects.select_for_update().get(pk=conflict.pk)
        if conflict.resolved_at is not None:
            raise NotOpen("This double booking is resolved already.")
        spans = {
            pk: (start, end)
            for pk, start, end in Event.objects.filter(
                pk__in=[conflict.event_a_id, conflict.event_b_id]
            ).values_list("pk", "start", "end")
        }
        conflict.dismissed_at = timezone.now()
        conflict.dismissed_note = (note or "").strip()[:NOTE_MAX]
        conflict.dismissed_dates = dates_digest(
            spans[conflict.event_a_id], spans[conflict.event_b_id]
        )
        conflict.save(update_fields=["dismissed_at", "dismissed_note", "dismissed_dates"])
    return conflict
