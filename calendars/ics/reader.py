"""icalendar's own parser, refined for feeds: the same components, less work per line.

icalendar's ``ComponentIcalParser`` is a template meant to be refined in subclasses; this
one changes two things and nothing else:

- inside a VEVENT, properties the import never reads (CREATED, LAST-MODIFIED, LOCATION,
  ATTENDEE, X-...) are dropped by name before their line is split or their value decoded;
- a plain content line (a token name, simple ``KEY=VALUE`` parameters without quotes,
  escapes, commas or spaces) is split with ``str.partition`` instead of icalendar's
  character-by-character scan; anything unusual goes through icalendar's ``parts()``.

Values are still decoded by icalendar's own types (vDDDTypes, vText, vRecur...), and the
value-type factory is looked up once per (name, VALUE) instead of twice per line.

Two additions for the import (issue 9): TZIDs are rewritten as ``calendars.ics.zones``
decided for this feed (IANA names for Windows ids and display names, nothing for an unknown
zone), and a VEVENT with DURATION and no DTEND keeps the DURATION's text in
``RAW_DURATION`` (icalendar's timedelta cannot tell PT25H from P1DT1H, which differ across
a DST change).

    calendars = FeedCalendar.reading(tzids.rewrite).from_ical(lines, multiple=True)
"""

from __future__ import annotations

import re

import icalendar
from icalendar.parser.ical.calendar import CalendarIcalParser
from icalendar.parser.parameter import Parameters
from icalendar.parser.property import unescape_backslash

# What calendars.ics.normalize and parse read from a VEVENT (recurring-ical-events and
# x-wr-timezone included); every other VEVENT property is dropped unparsed.
VEVENT_PROPERTIES = frozenset(
    {
        "UID",
        "DTSTART",
        "DTEND",
        "DURATION",
        "DTSTAMP",
        "SUMMARY",
        "DESCRIPTION",
        "STATUS",
        "TRANSP",
        "SEQUENCE",
        "RRULE",
        "RDATE",
        "EXDATE",
        "EXRULE",
        "RECURRENCE-ID",
    }
)
# A name, then parameters KEY=VALUE with nothing icalendar would unquote or unescape.
_PLAIN_HEAD = re.compile(r"[A-Za-z0-9-]+(?:;[A-Za-z0-9-]+=[A-Za-z0-9_./+\-]+)*")
_NAME_END = re.compile(r"[:;]")
_TOKEN = re.compile(r"[A-Za-z0-9-]+")
_KEPT_IN_VEVENT = VEVENT_PROPERTIES | {"BEGIN", "END"}
RAW_DURATION = "X-SYNCBEAT-RAW-DURATION"


class FeedIcalParser(CalendarIcalParser):
    """CalendarIcalParser that skips unused VEVENT properties and splits plain lines fast."""

    _factories: dict[tuple[str, str | None], object] = {}
    tzid_rewrite: dict[str, str | None] = {}

    def handle_property(self, name, params, vals, line):
        rewrite = self.tzid_rewrite
        if rewrite:
            tzid = params.get("TZID") if params else None
            if tzid is not None and tzid in rewrite:
                if rewrite[tzid] is None:
                    del params["TZID"]
                else:
                    params["TZID"] = rewrite[tzid]
            elif name == "TZID" and rewrite.get(vals.strip()):
                vals = rewrite[vals.strip()]
        super().handle_property(name, params, vals, line)
        if name == "DURATION" and self._stack and self._stack[-1].name == "VEVENT":
            self._stack[-1][RAW_DURATION] = vals

    def handle_end_component(self, vals):
        component = self._stack[-1] if self._stack else None
        if component is not None and component.name == "VEVENT" and "DTEND" in component:
            component.pop(RAW_DURATION, None)  # DTEND decides; the raw text is not needed
        super().handle_end_component(vals)

    def get_factory_for_property(self, name, params):
        key = (name, params.value)
        factory = self._factories.get(key)
        if factory is None:
            factory = self._factories[key] = self._types_factory.for_property(name, key[1])
        return factory

    def parse_content_lines(self) -> None:
        stack = self._stack
        for line in self._content_lines_iterator:
            if not line:
                continue
            if stack and stack[-1].name == "VEVENT":
                end = _NAME_END.search(line)
                name = line[: end.start()] if end else line
                if _TOKEN.fullmatch(name) and name.upper() not in _KEPT_IN_VEVENT:
                    continue
            parts = _plain_parts(line)
            if parts is None:
                try:
                    parts = line.parts()
                except ValueError as e:
                    self.handle_line_parse_error(e)
                    continue
            name, params, vals = parts
            uname = name.upper()
            if uname == "BEGIN":
                self.handle_begin_component(vals)
            elif uname == "END":
                self.handle_end_component(vals)
            else:
                self.handle_property(uname, params, vals, line)


def _plain_parts(line: str):
    """(name, Parameters, unescaped value) of a plain line, as ``line.parts()`` would give;
    None when the line needs icalendar's full scan."""
    head, colon, value = line.partition(":")
    if not colon or not _PLAIN_HEAD.fullmatch(head):
        return None
    name, _, rest = head.partition(";")
    params = Parameters()
    if rest:
        for pair in rest.split(";"):
            key, _, val = pair.partition("=")
            params[key] = val
    if "\\" in value:
        value = unescape_backslash(value)
    return name, params, value


class FeedCalendar(icalendar.Calendar):
    """An icalendar Calendar read with FeedIcalParser."""

    _parser = FeedIcalParser

    @classmethod
    def reading(cls, tzid_rewrite: dict[str, str | None]) -> type[FeedCalendar]:
        """This class, with TZIDs rewritten as ``tzid_rewrite`` says (see the module)."""
        if not tzid_rewrite:
            return cls
        parser = type("FeedIcalParserForFeed", (FeedIcalParser,), {"tzid_rewrite": tzid_rewrite})
        return type("FeedCalendarForFeed", (cls,), {"_parser": parser})

    @classmethod
    def _get_ical_parser(cls, st):
        return cls._parser(st, cls._get_component_factory(), cls.types_factory)
