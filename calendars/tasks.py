"""Thin Celery entry points for the calendars app (feeds sync through the engine's tasks)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="calendars.archive_events", acks_late=True, ignore_result=True)
def archive_events() -> int:
    """Daily: move events that ended more than CALENDAR_ARCHIVE_AFTER_DAYS ago to the
    archive (batched, idempotent). Returns how many moved."""
    from calendars.services.archive import archive_ended_events

    return archive_ended_events().archived
