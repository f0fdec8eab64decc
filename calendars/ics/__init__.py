"""The pure iCalendar layer of the calendars app: parse channel feeds, build our export.

No Django, no database, no network: bytes in, dataclasses out (and back).
"""

from calendars.ics.export import build_calendar
from calendars.ics.parse import InvalidCalendar, ParsedEvent, ParsedFeed, parse_feed

__all__ = ["InvalidCalendar", "ParsedEvent", "ParsedFeed", "build_calendar", "parse_feed"]
