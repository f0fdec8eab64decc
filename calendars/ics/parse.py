"""Parse a channel's iCalendar feed into normalised events (issues 3 and 9).

    feed = parse_feed(body, default_tz="Europe/Paris", today=date.today())

Pure: bytes in, ParsedFeed out (its fields are documented on calendars.ics.model.ParsedFeed).
Raises InvalidCalendar (reason "invalid_ics") when the body is not iCalendar at all; a single
broken VEVENT is skipped and listed in ``feed.skipped``.

The steps: check the body; unfold its lines as bytes and decode them (blocks.unfold); split
it into raw VEVENT blocks (blocks.split_feed); plan which blocks need decoding (plan.py:
unchanged since the last import, wholly outside the window, surely past the cap); decode
the others with icalendar through the refined reader, TZIDs mapped (zones.py); normalise
each VEVENT (normalize.py), choose among copies of one UID (uids.py), expand recurrences
inside the window, and keep the earliest events up to the cap (window.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

import x_wr_timezone
from icalendar.parser.content_line import Contentline, Contentlines

from calendars.ics.blocks import (
    RawFeed,
    decode_unfolded,
    split_feed,
    unfold_bytes,
    unfolded_pieces,
)
from calendars.ics.expand import expand_series, is_recurring, series_key
from calendars.ics.model import InvalidCalendar, ParsedEvent, ParsedFeed
from calendars.ics.normalize import (
    EVENT_ERRORS,
    SkipEvent,
    event_from_component,
    raw_uid,
    sort_key,
    zone,
)
from calendars.ics.plan import Plan, block_hashes, plan_blocks
from calendars.ics.reader import FeedCalendar
from calendars.ics.uids import choose_copies, fit_uid
from calendars.ics.window import Cap, import_window, overlaps
from calendars.ics.zones import FeedTzids, feed_tzids

__all__ = [
    "FeedText",
    "InvalidCalendar",
    "ParsedEvent",
    "ParsedFeed",
    "feed_text",
    "parse_feed",
    "text_pieces",
    "unfolded_body",
]

# Never hand icalendar more VEVENTs than this many times the cap: bounds time and memory
# on a hostile or runaway feed (the caller already caps the bytes).
RAW_FACTOR = 4
# And never expand more occurrences than this many times that (a series is expanded whole:
# an hourly one gives ~17,500 in the window).
OCCURRENCE_FACTOR = 2
# Part of every parse context digest: bump it when normalising a VEVENT changes, so that
# the next import of every feed decodes all its blocks again.
PARSER_VERSION = "2"
# Blocks decoded together: icalendar's components of one chunk at a time are in memory (a
# 10,000-event feed held ~30 MB of them at once; 250, not 500: a dense feed's import
# peaked 0.7-1.6 MB lower, at the same CPU time).
CHUNK_BLOCKS = 250

_BOM = b"\xef\xbb\xbf"
_BEGIN = re.compile(rb"\A\s*BEGIN:VCALENDAR\s*$", re.IGNORECASE | re.MULTILINE)
_END = re.compile(rb"^END:VCALENDAR[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True, slots=True)
class FeedText:
    """A feed's text as ``parse_feed`` reads it: checked to be a whole iCalendar stream,
    its lines unfolded and decoded (``feed_text``). A caller that has this may let the
    fetched body go before the parse: a 10,000-event feed is 3 MB of either."""

    text: str

    @classmethod
    def decode(cls, unfolded: bytes) -> FeedText:
        """The text of an ``unfolded_body``."""
        return cls(decode_unfolded(unfolded))

    @classmethod
    def join(cls, pieces: list[str]) -> FeedText:
        """The text of ``text_pieces(body)`` (``pieces`` is emptied)."""
        text = cls("".join(pieces))
        pieces.clear()
        return text


def feed_text(body: bytes) -> FeedText:
    """``body`` checked and unfolded; raises InvalidCalendar as ``parse_feed`` does."""
    return FeedText.join(text_pieces(body))


def text_pieces(body: bytes) -> list[str]:
    """``body`` checked (raises InvalidCalendar as ``parse_feed`` does), unfolded and decoded
    in pieces (blocks.unfolded_pieces): ``FeedText.join`` makes its text, which a caller may
    do after letting the body go (the feed is then held twice at most, never three times)."""
    return unfolded_pieces(_checked_body(body))


def unfolded_body(body: bytes) -> bytes:
    """``body`` checked (raises InvalidCalendar as ``parse_feed`` does), its lines unfolded:
    a new bytes object, so a caller may let the body go before ``FeedText.decode`` makes the
    text (the feed is then never held three times at once)."""
    return unfold_bytes(_checked_body(body))


def parse_feed(
    body: bytes | FeedText,
    *,
    default_tz: str = "UTC",
    today: date | None = None,
    max_events: int = 5000,
    own_domain: str = "syncbeat",
    own_uids: Collection[str] | None = None,
    known: Mapping[str, str] | None = None,
    known_context: str = "",
) -> ParsedFeed:
    """Parse ``body`` (an iCalendar feed, or its ``feed_text``) into a ParsedFeed.

    ``default_tz`` (the listing's zone) reads floating times without X-WR-TIMEZONE and
    places the window: events and occurrences overlapping [today - 30 days, today + 730
    days] are imported, at most ``max_events``, the earliest first (``covered_until``).
    Our own export coming back is left out and listed in ``skipped`` as "own_export": the
    UIDs in ``own_uids`` (exactly those this listing's export publishes, in any case) when
    given; else (callers that pass only ``own_domain``) every UID whose host contains it. Raises
    InvalidCalendar when the body is not iCalendar (empty, HTML, garbage, cut short).

    Re-imports: ``known`` maps the uids of the feed's current (non-cancelled) events to the
    raw hash of the VEVENT block they came from, and ``known_context`` is the
    ``context_hash`` of the import that stored them. An unchanged block is not decoded: its
    uid goes to ``unchanged_uids`` ("still there, as it was"), not to ``events``.
    """
    text = (body if isinstance(body, FeedText) else feed_text(body)).text
    del body
    settings = _Settings(
        zone(default_tz), default_tz, today or datetime.now(UTC).date(), max_events,
        own_domain, own_uids,
    )  # fmt: skip
    feed = _parse_text(text, settings, known, known_context)
    if feed.unchanged_uids and feed.truncated:
        # Which events the cap keeps depends on the dates of the undecoded ones: read all
        # (the first reading's events are let go first).
        del feed
        feed = _parse_text(text, settings, None, "")
    return feed


@dataclass(frozen=True)
class _Settings:
    listing_zone: tzinfo
    default_tz: str
    today: date
    max_events: int
    own_domain: str
    own_uids: Collection[str] | None


def _parse_text(
    text: str, settings: _Settings, known: Mapping[str, str] | None, known_context: str
) -> ParsedFeed:
    """One reading of the unfolded ``text`` (see parse_feed)."""
    listing_zone, max_events = settings.listing_zone, settings.max_events
    window = import_window(settings.today, listing_zone)
    raw = split_feed(text)
    tzids = feed_tzids(text)
    echo = _echo_test(settings.own_domain, settings.own_uids)
    context = _context_hash(raw, settings.default_tz, settings.own_domain, settings.own_uids)
    known = known if known_context == context else None
    max_raw = max(1, max_events) * RAW_FACTOR  # the hard bound on hostile input
    # ``known`` may be read lazily (its first look-up): no test of its length here.
    plan = plan_blocks(raw, window, max_events, max_raw, {} if known is None else known, echo)
    feed = ParsedFeed(
        raw_hashes=block_hashes(raw)[0],
        context_hash=context,
        window=window,
        unknown_tzids=tzids.unknown,
        unchanged_uids=[raw.blocks[index].uid for index in plan.unchanged] if raw else [],
    )
    reading = _Reading(feed, echo, listing_zone)
    reading.read(_chunks(raw, plan, text, max_raw), tzids)
    del raw
    cap = Cap(max_events - len(feed.unchanged_uids), listing_zone)
    cap.lower_cut(plan.cut, plan.left_out)
    unexpanded = reading.finish(cap, window, max_raw)
    cap.left_out += unexpanded
    _close(feed, cap, window[0] if plan.covers_nothing or unexpanded else None)
    return feed


def _close(feed: ParsedFeed, cap: Cap, covered_until: datetime | None) -> None:
    """Set the events the cap kept and what it says about coverage."""
    feed.events, cut, feed.left_out = cap.result()
    feed.covered_until = covered_until or cut
    feed.truncated = feed.left_out > 0


class _Reading:
    """Normalises the VEVENTs of the decoded calendars, one chunk of blocks at a time
    (``collect``), then keeps what the window and the cap allow (``finish``). A plain
    event is kept as its ParsedEvent only, so its icalendar component is freed with its
    chunk; recurring series keep their components until they are expanded."""

    def __init__(self, feed: ParsedFeed, echo, listing_zone: tzinfo):
        self.feed, self.echo, self.listing_zone = feed, echo, listing_zone
        self.floating = listing_zone
        # uid -> its event, or (several copies) a list of (rank, event): a list and a rank
        # per event held ~1.2 MB more at a 5,000-event feed's decode.
        self.plain: dict[str, ParsedEvent | list[tuple[tuple, ParsedEvent]]] = {}
        self.series: dict[str, dict[str, tuple[tuple, object]]] = {}

    def read(self, chunks: Iterator[list[str]], tzids: FeedTzids) -> None:
        """Decode and collect each chunk in turn (the feed's name from the first); raises
        InvalidCalendar as ``_decode`` does."""
        for number, lines in enumerate(chunks):
            calendars = _decode(lines, tzids)
            del lines
            if number == 0:
                self.feed.calendar_name = _calendar_name(calendars[0])
            self.collect(calendars)
            del calendars

    def collect(self, calendars) -> None:
        """Read every VEVENT of ``calendars`` (one chunk: the whole feed but for the blocks
        of other chunks); skips go to ``feed.skipped``."""
        floating, feed = self.listing_zone, self.feed  # each chunk holds every VCALENDAR
        for calendar in calendars:
            xwr = calendar.get("X-WR-TIMEZONE")
            if xwr:
                floating = zone(str(xwr), floating)
                calendar = _standardise(calendar, floating)
            for component in calendar.walk("VEVENT"):
                feed.decoded += 1
                uid = raw_uid(component)
                if self.echo(uid):
                    feed.skipped.append((fit_uid(uid), "own_export"))
                elif is_recurring(component):
                    rank = (*sort_key(component), 0)
                    _add_version(self.series, uid, component, feed.skipped, rank)
                else:
                    event = _plain_event(component, uid, floating, feed.skipped)
                    if event is not None:
                        _add_copy(self.plain, uid, event)
        self.floating = floating

    def finish(self, cap: Cap, window, max_raw: int) -> int:
        """Offer the events to ``cap``, expanding the series inside the window. Returns how
        many recurring series were left unexpanded: past OCCURRENCE_FACTOR * ``max_raw``
        occurrences (hostile input), the rest is not read."""
        listing_zone, skipped = cap.zone, self.feed.skipped
        for uid, copies in self.plain.items():
            if isinstance(copies, ParsedEvent):
                copies = [(_rank(copies), copies)]
            for event in choose_copies(uid, copies):
                if overlaps(event, window, listing_zone):
                    cap.add(event)
        budget = OCCURRENCE_FACTOR * max_raw
        for done, (uid, versions) in enumerate(self.series.items()):
            if budget <= 0:
                return len(self.series) - done
            components = [component for _, component in versions.values()]
            for event in expand_series(uid, components, window, self.floating, skipped):
                budget -= 1
                if overlaps(event, window, listing_zone):
                    cap.add(event)
        return 0


def _chunks(raw: RawFeed | None, plan: Plan, text: str, max_raw: int) -> Iterator[list[str]]:
    """The content lines to decode, in chunks of at most CHUNK_BLOCKS blocks: each chunk is
    the whole feed without the undecoded blocks and those of the other chunks (so every
    chunk keeps the VCALENDARs, their properties and VTIMEZONEs). One chunk when the feed
    could not be split, or when the rest is too large to read again per chunk."""
    if raw is None:
        yield _capped_lines(text, max_raw, plan)
        return
    skipped = set(plan.undecoded)
    decoded = [index for index in range(len(raw.blocks)) if index not in skipped]
    in_blocks = sum(block.stop - block.start for block in raw.blocks)
    if len(decoded) <= CHUNK_BLOCKS or len(raw.text) - in_blocks > len(raw.text) // 4:
        yield raw.lines(skipped)
        return
    del skipped
    for first in range(0, len(decoded), CHUNK_BLOCKS):
        keep = set(decoded[first : first + CHUNK_BLOCKS])
        # A generator, in order: a list of the other ~9,500 indexes is 0.4 MB.
        yield raw.lines(index for index in range(len(raw.blocks)) if index not in keep)


def _plain_event(component, uid: str, floating: tzinfo, skipped: list) -> ParsedEvent | None:
    try:
        return event_from_component(component, uid, floating)
    except SkipEvent as skip:
        skipped.append((fit_uid(uid), skip.reason))
    except EVENT_ERRORS:
        skipped.append((fit_uid(uid), "bad_event"))
    return None


def _add_copy(plain: dict, uid: str, event: ParsedEvent) -> None:
    """Keep ``event`` among the copies of ``uid`` (see _Reading.plain)."""
    copies = plain.get(uid)
    if copies is None:
        plain[uid] = event
        return
    if isinstance(copies, ParsedEvent):
        copies = plain[uid] = [(_rank(copies), copies)]
    copies.append((_rank(event), event))


_EARLIEST = datetime.min.replace(tzinfo=UTC)


def _rank(event: ParsedEvent) -> tuple[int, datetime]:
    """normalize.sort_key of the event's component (its SEQUENCE and DTSTAMP, as read)."""
    return event.sequence, event.dtstamp or _EARLIEST


def _add_version(series: dict, uid: str, component, skipped: list, rank: tuple) -> None:
    """Keep the latest copy of each (UID, RECURRENCE-ID) of a recurring series."""
    key = series_key(component)
    if key is None:
        skipped.append((fit_uid(uid), "bad_recurrence_id"))
        return
    versions = series.setdefault(uid, {})
    if key not in versions or rank >= versions[key][0]:
        versions[key] = (rank, component)


def _echo_test(own_domain: str, own_uids: Collection[str] | None):
    """uid -> True when it is our own export coming back (see parse_feed)."""
    if own_uids is not None:
        # Case-insensitive: a channel that re-publishes our export may change the case.
        uids = frozenset(uid.lower() for uid in own_uids)
        return lambda uid: uid.lower() in uids
    domain = (own_domain or "").lower()

    def by_domain(uid: str) -> bool:
        return bool(domain) and "@" in uid and domain in uid.rpartition("@")[2].lower()

    return by_domain


def _context_hash(
    raw: RawFeed | None, default_tz: str, own_domain: str, own_uids: Collection[str] | None
) -> str:
    """What every block's reading depends on besides its own text: the rest of the feed
    (VCALENDAR properties, VTIMEZONEs, X-WR-TIMEZONE), the listing's zone, which UIDs are
    our own echoes and the parser's version. "" when the feed could not be split."""
    if raw is None:
        return ""
    echoes = own_domain if own_uids is None else "\n".join(sorted(own_uids))
    seed = "\0".join((PARSER_VERSION, raw.rest_digest, default_tz, echoes))
    return hashlib.blake2b(seed.encode("utf-8", "replace"), digest_size=16).hexdigest()


def _checked_body(body: bytes) -> memoryview:
    """The feed's bytes up to its last END:VCALENDAR; raise InvalidCalendar when it is not
    a whole iCalendar stream."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not body or body.isspace():  # not body.strip(), which copies the body
        raise InvalidCalendar("empty body")
    start = len(_BOM) if body.startswith(_BOM) else 0
    if not _BEGIN.match(body[start : start + 200].lstrip()):
        raise InvalidCalendar("not iCalendar: no BEGIN:VCALENDAR at the start")
    ends = list(_END.finditer(body, start))
    if not ends:
        raise InvalidCalendar("truncated: no END:VCALENDAR")
    # A view, not a slice: a slice would copy the body (unfold copies it once anyway).
    return memoryview(body)[start : ends[-1].end()]


def _capped_lines(text: str, max_raw: int, plan: Plan) -> list[str]:
    """A feed split_feed could not follow: its content lines up to its (max_raw + 1)th
    VEVENT (the rest is left out, unread, and nothing past the window's start is covered)."""
    begins = re.compile(r"^BEGIN:VEVENT[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
    for count, match in enumerate(begins.finditer(text), start=1):
        if count > max_raw:
            plan.unread(sum(1 for _ in begins.finditer(text, match.start())))
            text = text[: match.start()] + "END:VCALENDAR\r\n"
            break
    return [line for line in re.split(r"\r?\n", text) if line]


def _decode(lines: list[str], tzids: FeedTzids) -> list:
    """icalendar's components of the feed, read from unfolded content lines."""
    try:
        content = Contentlines(Contentline(line) for line in lines)
        content.append("")
        calendars = FeedCalendar.reading(tzids.rewrite).from_ical(content, multiple=True)
    except EVENT_ERRORS as exc:
        raise InvalidCalendar(f"not iCalendar: {exc}") from None
    calendars = [c for c in calendars if getattr(c, "name", "") == "VCALENDAR"]
    if not calendars:
        raise InvalidCalendar("not iCalendar: no VCALENDAR")
    return calendars


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
