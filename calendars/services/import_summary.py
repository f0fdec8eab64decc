"""A feed's last import, in figures (``Feed.last_import``) and in words for its owner.

    {"at": "2026-12-01T10:00:00Z", "events": 30, "created": 2, "updated": 1, "cancelled": 1,
     "unchanged": 26, "renamed": 0, "skipped": [["uid", "bad_dtstart"], ...],
     "skipped_count": 3, "unknown_tzids": [], "left_out": 0, "covered_until": null,
     "held_back": 0, "kept": {"ended": 4}}

``skipped`` keeps the first SKIPPED_KEPT (uid, reason) pairs; ``skipped_count`` is complete.
``held_back``: live future events not cancelled because the feed suddenly held none.
"""

from __future__ import annotations

from datetime import UTC, datetime

from calendars.formatting import format_instant
from calendars.ics.model import ParsedFeed

SKIPPED_KEPT = 500
UNKNOWN_TZIDS_KEPT = 50

# The parser's reasons for skipping a VEVENT, in words an owner understands.
REASONS = {
    "bad_dtstart": "its start date could not be read",
    "missing_dtstart": "it has no start date",
    "bad_dtend": "its end date could not be read",
    "bad_duration": "its duration could not be read",
    "end_before_start": "it ends before it starts",
    "bad_event": "it could not be read",
    "bad_recurrence": "its repeat rule could not be read",
    "bad_recurrence_id": "it changes one date of a repeating event that could not be read",
    "unsupported_rrule": "it repeats every second or minute, which is not supported",
    "own_export": "it is our own export of this listing coming back (not a booking)",
}
KEPT_WORDS = {
    "unreadable": "kept as last read (the feed's copy of it could not be read)",
    "ended": "no longer in the feed but already over, so kept",
    "not_covered": "outside the range this import covered, so left as last read",
    "held_back": "not cancelled because the feed suddenly had no future events",
}


def reason_text(reason: str) -> str:
    return REASONS.get(reason, reason.replace("_", " "))


def build_last_import(*, now: datetime, parsed: ParsedFeed, upserted, held_back: int) -> dict:
    """The figures of one import, as stored on ``Feed.last_import``."""
    covered_until = parsed.covered_until
    return {
        "at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "events": upserted.events,
        "created": upserted.created,
        "updated": upserted.updated,
        "cancelled": upserted.cancelled,
        "unchanged": upserted.unchanged,
        "renamed": upserted.renamed,
        "skipped": [[uid, reason] for uid, reason in parsed.skipped[:SKIPPED_KEPT]],
        "skipped_count": len(parsed.skipped),
        "unknown_tzids": sorted(parsed.unknown_tzids)[:UNKNOWN_TZIDS_KEPT],
        "left_out": parsed.left_out,
        "truncated": bool(parsed.truncated),
        "covered_until": format_instant(covered_until) if covered_until else None,
        "held_back": held_back,
        "kept": dict(upserted.kept),
    }


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def summary_line(last_import: dict) -> str:
    """ "30 events: 2 new, 1 changed, 1 cancelled, 3 skipped" ("" before the first import)."""
    if not last_import:
        return ""
    parts = [
        f"{last_import.get(key, 0)} {word}"
        for key, word in (("created", "new"), ("updated", "changed"), ("cancelled", "cancelled"))
        if last_import.get(key)
    ]
    if last_import.get("skipped_count"):
        parts.append(f"{last_import['skipped_count']} skipped")
    events = _plural(last_import.get("events", 0), "event")
    return f"{events}: {', '.join(parts)}" if parts else f"{events}, no changes"


# Missing events kept for these reasons are the normal course of things (channels drop past
# stays; the cap is told by "left out"): said on the import's page, not on the feed's row.
ROUTINE_KEPT = frozenset({"ended", "not_covered", "held_back"})


def warnings(last_import: dict, *, routine: bool = False) -> list[str]:
    """What the owner should know about the last import beyond the counts, in words;
    ``routine`` adds the missing events kept as a matter of course (ended, not covered)."""
    notes = []
    held = last_import.get("held_back", 0)
    if held:
        notes.append(
            f"The feed suddenly had no future events; {_plural(held, 'booking')} not "
            "cancelled. If the next sync finds it still empty, they are cancelled then."
        )
    left_out = last_import.get("left_out", 0)
    if left_out or last_import.get("truncated"):
        until = last_import.get("covered_until")
        where = f" (nothing from {until[:10]} on was imported)" if until else ""
        notes.append(
            f"The feed holds more events than one import takes: {left_out} left out{where}."
        )
    zones = last_import.get("unknown_tzids") or []
    if zones:
        notes.append(f"Unknown time zones: {', '.join(zones)}; their times may be off.")
    for reason, count in sorted((last_import.get("kept") or {}).items()):
        if count and reason != "held_back" and (routine or reason not in ROUTINE_KEPT):
            notes.append(f"{_plural(count, 'event')} {KEPT_WORDS.get(reason, reason)}.")
    return notes


def skipped_rows(last_import: dict) -> list[dict]:
    """The skipped events with their reasons in words, for the owner's page."""
    return [
        {"uid": uid, "reason": reason, "text": reason_text(reason)}
        for uid, reason in last_import.get("skipped") or []
    ]


# Figures an older import may not have recorded, and their value then.
API_DEFAULTS = {
    "events": 0,
    "created": 0,
    "updated": 0,
    "cancelled": 0,
    "unchanged": 0,
    "renamed": 0,
    "skipped_count": 0,
    "unknown_tzids": [],
    "left_out": 0,
    "truncated": False,
    "covered_until": None,
    "held_back": 0,
    "kept": {},
}


def api_view(last_import: dict) -> dict:
    """``Feed.last_import`` as the API shows it: every figure, the skipped events as
    objects with their reason in words, the summary line and the notes."""
    return {
        **API_DEFAULTS,
        **last_import,
        "skipped": skipped_rows(last_import),
        "summary": summary_line(last_import),
        "notes": warnings(last_import, routine=True),
    }
