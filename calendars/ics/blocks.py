"""Split a feed into its raw top-level VEVENT blocks and "the rest", with a digest of each.

    text = unfold(body)         # bytes unfolded, then decoded (RFC 5545 3.1)
    raw = split_feed(text)      # None when the structure is too odd to split safely
    raw.blocks[0].digest, raw.blocks[0].uid, raw.blocks[0].days, raw.rest_digest
    lines = raw.lines(skip={2, 5})  # content lines without blocks 2 and 5, for the parser

A string scan, no decoding: the body is unfolded as bytes with icalendar's own folding rule
(so a fold that splits a multi-byte UTF-8 character joins its bytes before they are decoded),
and one regex pass visits only the lines that matter here (BEGIN, END, UID, the recurrence
properties and DTSTART/DTEND/DURATION, read as rough day numbers for the import window).
A block runs from ``BEGIN:VEVENT`` to its ``END:VEVENT`` directly
inside a VCALENDAR; everything else (VCALENDAR properties, VTIMEZONEs, X-WR-TIMEZONE) is the
rest. The import uses the digests to leave out blocks whose text did not change since the
last import (calendars.ics.parse).
"""

from __future__ import annotations

import hashlib
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from icalendar.parser.content_line import NEWLINE

UID_MAX = 512  # what calendars.models.Event.uid holds
# icalendar's UFOLD (a line break, blank lines, then a space or tab), on bytes. Its
# lookbehinds only keep a match from starting inside a run of line breaks, which the
# leftmost match never does: the same result, twice as fast.
_UFOLD_BYTES = re.compile(rb"(?:\r?\n)+[ \t]")
_DAY = re.compile(r"(\d{4})(\d{2})(\d{2})(T\d{6}Z?)?\s*\Z")
_UNTIL = re.compile(r"[:;]UNTIL=(\d{8})")
_DURATION = re.compile(
    r"\s*([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?\s*\Z", re.I
)
# A block holding one of these is (part of) a recurring series: its occurrences depend on
# today's window and on the other blocks of the series, so it is always decoded.
RECURRENCE_PROPERTIES = ("RRULE", "RDATE", "EXDATE", "EXRULE", "RECURRENCE-ID")
_MARK = re.compile(
    r"^(BEGIN|END|UID|DTSTART|DTEND|DURATION|"
    + "|".join(RECURRENCE_PROPERTIES)
    + r")([;:])([^\r\n]*)",
    re.IGNORECASE | re.MULTILINE,
)


class RawBlock(NamedTuple):
    """One top-level VEVENT: ``text[start:stop]`` of the unfolded feed.

    ``uid`` is the UID exactly as the parser will read it, or None when a string scan
    cannot tell (no UID, several, parameters, escapes, surrounding blanks, too long).
    ``days`` is the span as rough day numbers (date.toordinal() of DTSTART's and of the
    end's calendar date, zone and time of day ignored: the true span lies within a day or
    two of it; for a series, the span of all its occurrences, see _series_days), or None
    when a scan cannot tell.
    """

    start: int
    stop: int
    uid: str | None
    recurring: bool
    digest: str
    odd_uid: bool = False  # a UID line (or several) the scan cannot read as the parser would
    days: tuple[int, int] | None = None


_ENDLESS = date.max.toordinal()


class RawBlocks(Sequence[RawBlock]):
    """The blocks of a feed, stored by column; an item is a RawBlock made when it is read.
    10,000 RawBlock objects, their day tuples and numbers held ~2 MB more at a big feed's
    parse than these arrays."""

    def __init__(self) -> None:
        self._bounds = array("q")  # start, stop, first day, last day (days 0: unknown)
        self._uids: list[str | None] = []
        self._digests: list[str] = []
        self._flags = bytearray()  # 1: recurring, 2: odd_uid

    def append(self, block: RawBlock) -> None:
        first, last = block.days or (0, 0)
        # A COUNT x INTERVAL past any date is endless all the same (and fits the array).
        self._bounds.extend((block.start, block.stop, first, min(last, _ENDLESS)))
        self._uids.append(block.uid)
        self._digests.append(block.digest)
        self._flags.append(block.recurring | block.odd_uid << 1)

    def __len__(self) -> int:
        return len(self._uids)

    def __getitem__(self, index: int) -> RawBlock:  # type: ignore[override]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        start, stop, first, last = self._bounds[4 * index : 4 * index + 4]
        flags = self._flags[index]
        return RawBlock(
            start=start,
            stop=stop,
            uid=self._uids[index],
            recurring=bool(flags & 1),
            digest=self._digests[index],
            odd_uid=bool(flags & 2),
            days=(first, last) if first else None,
        )

    def __iter__(self) -> Iterator[RawBlock]:
        bounds = iter(self._bounds)
        for uid, digest, flags, start, stop, first, last in zip(
            self._uids, self._digests, self._flags, bounds, bounds, bounds, bounds, strict=True
        ):
            days = (first, last) if first else None
            yield RawBlock(start, stop, uid, bool(flags & 1), digest, bool(flags & 2), days)


@dataclass(frozen=True, slots=True)
class RawFeed:
    text: str  # unfolded
    blocks: RawBlocks
    rest_digest: str

    def lines(self, skip: Iterable[int] = ()) -> list[str]:
        """The content lines icalendar would read, without the blocks at indexes ``skip``
        (sorted when it is not a set). Only the text between two skipped blocks that holds
        more than line breaks is cut out: a chunk of 500 blocks of 10,000 cut ~9,500
        two-character strings otherwise."""
        if not skip:
            pieces = [self.text]
        else:
            pieces, position = [], 0
            for index in sorted(skip) if isinstance(skip, (set, frozenset)) else skip:
                block = self.blocks[index]
                if _has_lines(self.text, position, block.start):
                    pieces.append(self.text[position : block.start])
                position = block.stop
            pieces.append(self.text[position:])
        return [line for piece in pieces for line in NEWLINE.split(piece) if line]


def _has_lines(text: str, start: int, stop: int) -> bool:
    """True when ``text[start:stop]`` holds anything but line breaks (no copy when short)."""
    if stop - start > 8:
        return True
    return bool(text[start:stop].strip("\r\n"))


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def unfold(body: bytes | memoryview) -> str:
    """The feed's text: content lines unfolded as bytes, then decoded as UTF-8 (RFC 5545
    3.1: a fold may fall inside a multi-byte character). Undecodable bytes become U+FFFD."""
    return decode_unfolded(unfold_bytes(body))


def unfold_bytes(body: bytes | memoryview) -> bytes:
    """``unfold``'s first step: the content lines unfolded, still bytes."""
    return _UFOLD_BYTES.sub(b"", body)


def decode_unfolded(unfolded: bytes) -> str:
    """``unfold``'s second step: the unfolded bytes decoded."""
    return unfolded.decode("utf-8", errors="replace")


# Bytes unfolded and decoded at a time by ``unfolded_pieces``: each piece is then a small
# object (an ASCII str of up to 462 characters fits CPython's 512-byte small-object
# allocator), so an import's pieces reuse the pools earlier imports freed in the worker,
# not new memory beside the body (a dense 10,000-event feed imported a second time peaked
# ~3 MB higher with pieces of 256 KB).
UNFOLD_WINDOW = 448
# Two bytes that are neither a line break nor part of a multi-byte character: no fold
# (a run of line breaks, then a blank) and no UTF-8 sequence spans the point between them.
_SAFE_CUT = re.compile(rb"[\x00-\x09\x0b\x0c\x0e-\x7f]{2}")


def unfolded_pieces(body: bytes | memoryview) -> list[str]:
    """``unfold(body)`` in pieces (``"".join`` of them is its text), each made from a window
    of about UNFOLD_WINDOW bytes cut between two bytes that are neither line breaks nor
    non-ASCII: a fold and a UTF-8 character lie wholly inside one window, so each reads as
    in the whole. The feed is never held three times at once (the body, the unfolding's
    pieces and its result), and the caller may let the body go before joining them."""
    # A window's end is searched from its nominal end on: linear in the body however rare
    # the cuts are.
    pieces, start, size = [], 0, len(body)
    while start < size:
        stop = start + UNFOLD_WINDOW
        if stop >= size:
            stop = size
        else:
            cut = _SAFE_CUT.search(body, stop - 1)
            stop = size if cut is None else cut.start() + 1
        pieces.append(decode_unfolded(unfold_bytes(body[start:stop])))
        start = stop
    return pieces


def split_feed(unfolded: str) -> RawFeed | None:
    """Find the top-level VEVENT blocks of an unfolded feed (see ``unfold``).

    Returns None when BEGIN/END lines do not nest or carry parameters (the caller then
    decodes everything, as before). Raises nothing.
    """
    scan = _Scan(unfolded)
    for match in _MARK.finditer(unfolded):
        name, separator, value = match.groups()
        name = name.upper()
        if name == "BEGIN" or name == "END":
            if separator != ":" or not scan.component(name, value.strip().upper(), match):
                return None
        elif scan.start >= 0:
            scan.property(name, separator, value)
    if scan.start >= 0 or scan.stack:
        return None
    _add_lines(scan.rest, unfolded[scan.position :])
    return RawFeed(text=unfolded, blocks=scan.blocks, rest_digest=_digest("\n".join(scan.rest)))


class _Scan:
    """split_feed's state: the component stack and the open top-level VEVENT block."""

    def __init__(self, text: str):
        self.text = text
        self.stack: list[str] = []
        self.blocks = RawBlocks()
        self.rest: list[str] = []
        self.position = 0  # end of the last block
        self.start = -1  # the open block's first character, -1 outside a block
        self.uid: str | None = None
        self.uids = 0
        self.recurring = False
        self.dates: dict[str, str] = {}  # DTSTART/DTEND/DURATION of the open block
        self.rules: list[str] = []  # its recurrence lines, "NAME:value"

    def component(self, name: str, component: str, match: re.Match) -> bool:
        """Follow a BEGIN or END line; False when the nesting is broken."""
        if name == "BEGIN":
            if self.start < 0 and component == "VEVENT" and self.stack == ["VCALENDAR"]:
                self.start, self.uid, self.uids, self.recurring = match.start(), None, 0, False
                self.dates, self.rules = {}, []
            self.stack.append(component)
            return True
        if not self.stack or self.stack.pop() != component:
            return False
        if self.start >= 0 and len(self.stack) == 1:
            self._close(match.end())
        return True

    def _close(self, stop: int) -> None:
        start, uids = self.start, self.uids
        _add_lines(self.rest, self.text[self.position : start])
        self.blocks.append(
            RawBlock(
                start=start,
                stop=stop,
                uid=self.uid if uids == 1 else None,
                recurring=self.recurring,
                digest=_digest(self.text[start:stop]),
                odd_uid=uids > 1 or (uids == 1 and self.uid is None),
                days=_days(self.dates, self.rules if self.recurring else None),
            )
        )
        self.position, self.start = stop, -1

    def property(self, name: str, separator: str, value: str) -> None:
        if name == "UID":
            if len(self.stack) == 2:  # not a VALARM's UID, say
                self.uids += 1
                self.uid = _plain_uid(separator, value)
        elif name in _SPAN_NAMES:
            if len(self.stack) == 2:
                # a repeated property makes the scan unsure: "" reads as unknown
                self.dates[name] = "" if name in self.dates else value.rpartition(":")[2]
        else:
            self.recurring = True
            self.rules.append(f"{name}{separator}{value}" if len(self.stack) == 2 else "?")


_SPAN_NAMES = ("DTSTART", "DTEND", "DURATION")


def _days(dates: dict[str, str], rules: list[str] | None = None) -> tuple[int, int] | None:
    """(first, last) rough day numbers of a block's span (of all its occurrences when
    ``rules``, its recurrence lines, are given); None when the scan is unsure."""
    start = _day(dates.get("DTSTART"))
    if start is None:
        return None
    if "DTEND" in dates:
        end = _day(dates["DTEND"])
        span = None if end is None else (start, max(start, end))
    elif "DURATION" in dates:
        days = duration_days(dates["DURATION"])
        span = None if days is None else (start, start + max(days, 0))
    else:
        span = (start, start + 1)
    return span if span is None or rules is None else _series_days(span, rules)


def _series_days(span: tuple[int, int], rules: list[str]) -> tuple[int, int] | None:
    """The span of every occurrence of a block with one RRULE (and EXDATEs, or a
    RECURRENCE-ID): from its DTSTART to UNTIL plus one occurrence's length; endless
    without UNTIL. None with RDATE, EXRULE, several RRULEs or anything odd."""
    names = [rule.partition(":")[0].partition(";")[0].upper() for rule in rules]
    if any(name not in ("RRULE", "EXDATE", "RECURRENCE-ID") for name in names):
        return None
    if names.count("RRULE") != 1:
        return span if "RECURRENCE-ID" in names and "RRULE" not in names else None
    rule = rules[names.index("RRULE")].upper()
    until = _UNTIL.search(rule)
    if until is None:
        days = count_days(rule)
        return span[0], date.max.toordinal() if days is None else span[1] + days
    last = _day(until[1])
    return None if last is None else (span[0], max(span[1], last + span[1] - span[0] + 1))


# Days per occurrence at most, per FREQ, for ``count_days``: a MONTHLY rule on the 31st
# skips the shorter months, a YEARLY one on February 29 waits up to 8 years (2096-2104).
_PERIOD_DAYS = {"DAILY": 1, "WEEKLY": 7, "MONTHLY": 62, "YEARLY": 366 * 8}
_WEEKDAYS = frozenset({"MO", "TU", "WE", "TH", "FR", "SA", "SU"})


def count_days(rule: str) -> int | None:
    """How many days past DTSTART a COUNT-limited ``RRULE:...`` line (upper case) surely
    has its last occurrence start by, plus a day; None when unsure: no COUNT, an odd value,
    or BY... parts other than plain weekdays on a DAILY or WEEKLY rule (BYDAY on a DAILY
    rule: an occurrence at least every 7 * INTERVAL days)."""
    name, separator, value = rule.partition(":")
    if name != "RRULE" or not separator:
        return None
    parts = dict(part.partition("=")[::2] for part in value.split(";") if part)
    freq, count, interval = (
        parts.pop("FREQ", ""),
        parts.pop("COUNT", ""),
        parts.pop("INTERVAL", "1"),
    )
    parts.pop("WKST", None)
    if freq not in _PERIOD_DAYS or not count.isdigit() or not interval.isdigit():
        return None
    period = _PERIOD_DAYS[freq]
    if freq == "MONTHLY" and interval != "1":
        # On the 29th-31st an INTERVAL can step over the long months for years (every 5
        # months from January 31: the next is July 31, 30 months on).
        return None
    if "BYDAY" in parts and freq in ("DAILY", "WEEKLY"):
        if not set(parts.pop("BYDAY").split(",")) <= _WEEKDAYS:
            return None
        period = 7
    if parts or not 0 < int(count) <= 100_000 or int(interval) < 1:
        return None
    return int(count) * int(interval) * period + 1


def _day(value: str | None) -> int | None:
    match = _DAY.match(value or "")
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3])).toordinal()
    except ValueError:
        return None


def duration_days(value: str) -> int | None:
    """Whole days a DURATION value spans at most (rounded up); None when it is no duration."""
    match = _DURATION.match(value)
    if match is None or match[0].strip() in ("P", "+P", "-P"):
        return None
    weeks, days, hours, minutes, seconds = (int(group or 0) for group in match.groups()[1:])
    total = weeks * 7 + days + -(-(hours * 3600 + minutes * 60 + seconds) // 86400)
    return -total if match[1] == "-" else total


def _add_lines(lines: list[str], text: str) -> None:
    """Append the content lines of ``text``: the rest's digest must not depend on how many
    blocks there were between them (or on the line endings)."""
    if text.strip("\r\n"):
        lines.extend(line for line in NEWLINE.split(text) if line)


def _plain_uid(separator: str, value: str) -> str | None:
    """The value of ``UID:value`` when the parser reads it as is; None otherwise."""
    if separator != ":" or not value or "\\" in value or len(value) > UID_MAX:
        return None
    if value != value.strip():
        return None
    return value
