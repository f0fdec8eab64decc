"""Parse a channel's iCalendar feed into normalised events (issue 3, "Import: the contract").

    feed = parse_feed(body, default_tz="Europe/Paris", today=date.today())

Pure: bytes in, ParsedFeed out. Raises InvalidCalendar (reason "invalid_ics") when the body
is not iCalendar at all; a single broken VEVENT is skipped and listed in ``feed.skipped``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo

import icalendar
import recurring_ical_events
import x_wr_timezone
from icalendar.parser.content_line import Contentline, Contentlines

from calendars.ics.blocks import RawFeed, split_feed
from calendars.ics.model import InvalidCalendar, ParsedEvent, ParsedFeed
from calendars.ics.normalize import (
    EVENT_ERRORS,
    SkipEvent,
    event_from_component,
    occurrence_id,
    raw_uid,
    sort_key,
    zone,
)
from calendars.ics.reader import FeedCalendar

__all__ = ["InvalidCalendar", "ParsedEvent", "ParsedFeed", "parse_feed"]

WINDOW_BEFORE = timedelta(days=30)
WINDOW_AFTER = timedelta(days=730)
# Never hand icalendar more VEVENTs than this many times the cap: bounds time and memory
# on a hostile or runaway feed (the caller already caps the bytes).
RAW_FACTOR = 4
_UNSUPPORTED_FREQ = {"SECONDLY", "MINUTELY"}
# Part of every parse context digest: bump it when normalising a VEVENT changes, so that
# the next import of every feed decodes all its blocks again.
PARSER_VERSION = "1"

_BEGIN = re.compile(rb"\A\s*BEGIN:VCALENDAR\s*$", re.IGNORECASE | re.MULTILINE)
_END = re.compile(rb"^END:VCALENDAR[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_VEVENT = re.compile(rb"^BEGIN:VEVENT[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)


def parse_feed(
    body: bytes,
    *,
    default_tz: str = "UTC",
    today: date | None = None,
    max_events: int = 5000,
    own_domain: str = "syncbeat",
    known: Mapping[str, str] | None = None,
    known_context: str = "",
) -> ParsedFeed:
    """Parse ``body`` (an iCalendar feed) into a ParsedFeed.

    ``default_tz`` reads floating times when the feed has no X-WR-TIMEZONE; recurrences are
    expanded within [today - 30 days, today + 2 years]; at most ``max_events`` events and
    occurrences are returned (``truncated`` set when more were there); events whose UID
    host contains ``own_domain`` (our own export coming back) are left out and listed in
    ``skipped`` with reason "own_export". Raises InvalidCalendar when the body is not
    iCalendar (empty, HTML, garbage, cut before END:VCALENDAR).

    Re-imports: ``known`` maps the uids of the feed's current (non-cancelled) events to the
    raw hash of the VEVENT block they came from, and ``known_context`` is the
    ``context_hash`` of the import that stored them. A block whose text is unchanged is then
    not decoded: its uid goes to ``unchanged_uids`` ("still there, as it was") instead of
    ``events`` (rules in ``_unchanged_blocks``). ``raw_hashes`` and ``context_hash`` are
    what to store for the next import.
    """
    text = _checked_text(body, max_raw=max(1, max_events) * RAW_FACTOR)
    raw = split_feed(text)
    context = _context_hash(raw, default_tz, own_domain)
    raw_hashes, candidates = _block_hashes(raw)
    skip: list[int] = []
    if known and raw is not None and known_context and known_context == context:
        skip = _unchanged_blocks(raw, candidates, known, max_events)
    beyond = _beyond_the_cap(raw, max_events) if raw is not None else []
    calendars = _decode(raw.lines([*skip, *beyond]) if raw is not None else text)
    today = today or datetime.now(UTC).date()
    first = calendars[0]
    feed = ParsedFeed(
        events=[],
        skipped=[],
        calendar_name=_calendar_name(first),
        unchanged_uids=[raw.blocks[index].uid for index in skip],
        raw_hashes=raw_hashes,
        context_hash=context,
    )
    unchanged = len(skip)
    feed.truncated = bool(beyond)

    floating = zone(default_tz)
    plain: dict[str, tuple[tuple, ParsedEvent]] = {}
    series: dict[str, dict[str, tuple[tuple, object]]] = {}
    order = 0
    for calendar in calendars:
        xwr = calendar.get("X-WR-TIMEZONE")
        if xwr:
            floating = zone(str(xwr), floating)
            calendar = _standardise(calendar, floating)
        for component in calendar.walk("VEVENT"):
            order += 1
            uid = raw_uid(component)
            if _is_echo(uid, own_domain):
                feed.skipped.append((uid, "own_export"))
                continue
            rank = (*sort_key(component), order)
            if _is_recurring(component):
                try:
                    rid = component.get("RECURRENCE-ID")
                    key = rid.to_ical().decode() if rid is not None else ""
                except EVENT_ERRORS:
                    feed.skipped.append((uid, "bad_recurrence_id"))
                    continue
                versions = series.setdefault(uid, {})
                if key not in versions or rank > versions[key][0]:
                    versions[key] = (rank, component)
                continue
            try:
                event = event_from_component(component, uid, floating)
            except SkipEvent as skip_event:
                feed.skipped.append((uid, skip_event.reason))
                continue
            except EVENT_ERRORS:
                feed.skipped.append((uid, "bad_event"))
                continue
            if uid in plain:
                if rank > plain[uid][0]:
                    plain[uid] = (rank, event)
            elif len(plain) + unchanged >= max_events:
                feed.truncated = True
            else:
                plain[uid] = (rank, event)
    feed.decoded = order

    feed.events = [event for _, event in plain.values()]
    window = (today - WINDOW_BEFORE, today + WINDOW_AFTER)
    for uid, versions in series.items():
        budget = max_events - len(feed.events) - unchanged
        components = [component for _, component in versions.values()]
        occurrences, truncated = _expand(uid, components, window, floating, budget, feed.skipped)
        feed.events.extend(occurrences)
        feed.truncated = feed.truncated or truncated
    return feed


def _context_hash(raw: RawFeed | None, default_tz: str, own_domain: str) -> str:
    """What every block's reading depends on besides its own text: the rest of the feed
    (VCALENDAR properties, VTIMEZONEs, X-WR-TIMEZONE), the listing's zone, our export
    domain and the parser's version. "" when the feed could not be split."""
    if raw is None:
        return ""
    seed = "\0".join((PARSER_VERSION, raw.rest_digest, default_tz, own_domain))
    return hashlib.blake2b(seed.encode("utf-8", "replace"), digest_size=16).hexdigest()


def _block_hashes(raw: RawFeed | None) -> tuple[dict[str, str], dict[str, int]]:
    """(uid -> raw hash, uid -> block index) of the blocks that may be skipped next time:
    not recurring, with a plain UID found in no other block. Nothing at all when a block's
    UID cannot be read by a string scan (it might repeat another block's UID)."""
    if raw is None:
        return {}, {}
    seen: dict[str, int] = {}
    repeated: set[str] = set()
    for index, block in enumerate(raw.blocks):
        if block.odd_uid:
            return {}, {}
        if block.uid is None:
            continue
        if block.uid in seen:
            repeated.add(block.uid)
        seen[block.uid] = index
    candidates = {
        uid: index
        for uid, index in seen.items()
        if uid not in repeated and not raw.blocks[index].recurring
    }
    return {uid: raw.blocks[index].digest for uid, index in candidates.items()}, candidates


def _beyond_the_cap(raw: RawFeed, max_events: int) -> list[int]:
    """Blocks past the first ``max_events`` that can only be dropped by the cap: never
    decoded, which keeps a 10,000-event feed's memory to what 5,000 need. A block whose UID
    also stands before the cap (a later copy may win on SEQUENCE) or cannot be read by a
    string scan is kept and decoded."""
    if len(raw.blocks) <= max_events:
        return []
    early = {block.uid for block in raw.blocks[:max_events]}
    return [
        index
        for index, block in enumerate(raw.blocks[max_events:], start=max_events)
        if block.uid is not None and not block.odd_uid and block.uid not in early
    ]


def _unchanged_blocks(
    raw: RawFeed, candidates: dict[str, int], known: Mapping[str, str], max_events: int
) -> list[int]:
    """Indexes of the blocks to leave undecoded: a candidate (see _block_hashes) whose raw
    hash is the one stored on the feed's live event of that uid. None when the feed holds
    more blocks than the cap (which events the cap keeps depends on file order)."""
    if len(raw.blocks) > max_events:
        return []
    blocks = raw.blocks
    return sorted(
        index for uid, index in candidates.items() if known.get(uid) == blocks[index].digest
    )


def _checked_text(body: bytes, *, max_raw: int) -> str:
    """The feed as text when it is a whole iCalendar stream; raise InvalidCalendar."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not body or not body.strip():
        raise InvalidCalendar("empty body")
    body = body.removeprefix(b"\xef\xbb\xbf")
    if not _BEGIN.match(body[:200].lstrip()):
        raise InvalidCalendar("not iCalendar: no BEGIN:VCALENDAR at the start")
    ends = list(_END.finditer(body))
    if not ends:
        raise InvalidCalendar("truncated: no END:VCALENDAR")
    body = body[: ends[-1].end()]
    body = _cap_vevents(body, max_raw)
    return body.decode("utf-8", errors="replace")


def _decode(data: str | list[str]) -> list:
    """icalendar's components of the feed (text, or content lines already unfolded)."""
    try:
        if isinstance(data, list):
            lines = Contentlines(Contentline(line) for line in data)
            lines.append("")
            calendars = FeedCalendar.from_ical(lines, multiple=True)
        else:
            calendars = FeedCalendar.from_ical(data, multiple=True)
    except EVENT_ERRORS as exc:
        raise InvalidCalendar(f"not iCalendar: {exc}") from None
    calendars = [c for c in calendars if getattr(c, "name", "") == "VCALENDAR"]
    if not calendars:
        raise InvalidCalendar("not iCalendar: no VCALENDAR")
    return calendars


def _cap_vevents(body: bytes, max_raw: int) -> bytes:
    """Cut the body before its (max_raw + 1)th VEVENT, closing the calendar."""
    for count, match in enumerate(_VEVENT.finditer(body), start=1):
        if count > max_raw:
            return body[: match.start()] + b"END:VCALENDAR\r\n"
    return body


def _calendar_name(calendar) -> str:
    for name in ("X-WR-CALNAME", "NAME"):
        value = calendar.get(name)
        if value:
            return str(value if not isinstance(value, list) else value[0]).strip()[:255]
    return ""


def _standardise(calendar, floating: tzinfo):
    """Apply X-WR-TIMEZONE (Google): floating and UTC times become times in that zone."""
    try:
        return x_wr_timezone.to_standard(calendar, timezone=floating)
    except EVENT_ERRORS:
        return calendar  # floating times are still read in that zone below


def _is_echo(uid: str, own_domain: str) -> bool:
    if not own_domain or "@" not in uid:
        return False
    return own_domain.lower() in uid.rpartition("@")[2].lower()


def _is_recurring(component) -> bool:
    return any(name in component for name in ("RRULE", "RDATE", "RECURRENCE-ID"))


def _unsupported_rule(components) -> bool:
    for component in components:
        rules = component.get("RRULE")
        for rule in rules if isinstance(rules, list) else [rules]:
            if rule is not None and any(
                str(freq).upper() in _UNSUPPORTED_FREQ for freq in rule.get("FREQ", [])
            ):
                return True
    return False


def _sort_instant(value: date | datetime) -> datetime:
    if not isinstance(value, datetime):
        return datetime.combine(value, datetime.min.time(), tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _expand(
    uid: str,
    components: list,
    window: tuple[date, date],
    floating: tzinfo,
    budget: int,
    skipped: list[tuple[str, str]],
) -> tuple[list[ParsedEvent], bool]:
    """Occurrences of one recurring UID inside the window, each with uid "<UID>#<id>"."""
    try:
        unsupported = _unsupported_rule(components)
    except EVENT_ERRORS:
        skipped.append((uid, "bad_recurrence"))
        return [], False
    if unsupported:
        skipped.append((uid, "unsupported_rrule"))
        return [], False
    calendar = icalendar.Calendar()
    for component in components:
        calendar.add_component(component)
    events: list[ParsedEvent] = []
    try:
        # between() is bounded by the window (at most ~17,500 hourly occurrences in 2 years);
        # after() on an endless rule can spin in dateutil long past the window.
        occurrences = recurring_ical_events.of(calendar).between(window[0], window[1])
        occurrences.sort(key=lambda occurrence: _sort_instant(occurrence["DTSTART"].dt))
        for occurrence in occurrences:
            rid = occurrence.get("RECURRENCE-ID")
            original = rid.dt if rid is not None else occurrence["DTSTART"].dt
            occurrence_uid = f"{uid}#{occurrence_id(original, floating)}"
            try:
                event = event_from_component(occurrence, occurrence_uid, floating)
            except SkipEvent as skip:
                skipped.append((occurrence_uid, skip.reason))
                continue
            if len(events) >= budget:
                return events, True
            events.append(event)
    except EVENT_ERRORS:
        skipped.append((uid, "bad_recurrence"))
        return [], False
    return events, False
