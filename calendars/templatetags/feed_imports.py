"""A feed's last import in words, for the owner pages: {% load feed_imports %}."""

from __future__ import annotations

from django import template

from calendars.services.import_summary import summary_line, warnings

register = template.Library()


@register.filter
def import_summary(last_import: dict) -> str:
    """In words: "30 events: 2 new, 1 changed, 1 cancelled, 3 skipped" ("" before any)."""
    return summary_line(last_import or {})


@register.filter
def import_notes(last_import: dict) -> list[str]:
    """What the owner should know beyond the counts (held back, left out, unknown zones)."""
    return warnings(last_import or {})
