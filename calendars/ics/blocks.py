"""Split a feed into its raw top-level VEVENT blocks and "the rest", with a digest of each.

    raw = split_feed(text)      # None when the structure is too odd to split safely
    raw.blocks[0].digest, raw.blocks[0].uid, raw.rest_digest
    lines = raw.lines(skip={2, 5})  # content lines without blocks 2 and 5, for the parser

A string scan, no decoding: the text is unfolded exactly as icalendar unfolds it (its own
UFOLD), and one regex pass visits only the lines that matter here (BEGIN, END, UID and the
recurrence properties). A block runs from ``BEGIN:VEVENT`` to its ``END:VEVENT`` directly
inside a VCALENDAR; everything else (VCALENDAR properties, VTIMEZONEs, X-WR-TIMEZONE) is the
rest. The import uses the digests to leave out blocks whose text did not change since the
last import (calendars.ics.parse).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass

from icalendar.parser.content_line import NEWLINE, UFOLD

UID_MAX = 512  # what calendars.models.Event.uid holds
# A block holding one of these is (part of) a recurring series: its occurrences depend on
# today's window and on the other blocks of the series, so it is always decoded.
RECURRENCE_PROPERTIES = ("RRULE", "RDATE", "EXDATE", "EXRULE", "RECURRENCE-ID")
_MARK = re.compile(
    r"^(BEGIN|END|UID|" + "|".join(RECURRENCE_PROPERTIES) + r")([;:])([^\r\n]*)",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True, slots=True)
class RawBlock:
    """One top-level VEVENT: ``text[start:stop]`` of the unfolded feed.

    ``uid`` is the UID exactly as the parser will read it, or None when a string scan
    cannot tell (no UID, several, parameters, escapes, surrounding blanks, too long).
    """

    start: int
    stop: int
    uid: str | None
    recurring: bool
    digest: str
    odd_uid: bool = False  # a UID line (or several) the scan cannot read as the parser would


@dataclass(frozen=True, slots=True)
class RawFeed:
    text: str  # unfolded
    blocks: list[RawBlock]
    rest_digest: str

    def lines(self, skip: Collection[int] = ()) -> list[str]:
        """The content lines icalendar would read, without the blocks at indexes ``skip``."""
        if not skip:
            pieces = [self.text]
        else:
            pieces, position = [], 0
            for index in sorted(skip):
                block = self.blocks[index]
                pieces.append(self.text[position : block.start])
                position = block.stop
            pieces.append(self.text[position:])
        return [line for piece in pieces for line in NEWLINE.split(piece) if line]


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def split_feed(text: str) -> RawFeed | None:
    """Unfold ``text`` and find its top-level VEVENT blocks.

    Returns None when BEGIN/END lines do not nest or carry parameters (the caller then
    decodes everything, as before). Raises nothing.
    """
    unfolded = UFOLD.sub("", text)
    stack: list[str] = []
    blocks: list[RawBlock] = []
    rest: list[str] = []
    position = 0  # end of the last block
    start = -1  # the open block's first character, -1 outside a block
    uid: str | None = None
    uids = 0
    recurring = False
    for match in _MARK.finditer(unfolded):
        name, separator, value = match.groups()
        name = name.upper()
        if name == "BEGIN" or name == "END":
            if separator != ":":
                return None
            component = value.strip().upper()
            if name == "BEGIN":
                if start < 0 and component == "VEVENT" and stack == ["VCALENDAR"]:
                    start, uid, uids, recurring = match.start(), None, 0, False
                stack.append(component)
                continue
            if not stack or stack.pop() != component:
                return None
            if start >= 0 and len(stack) == 1:
                stop = match.end()
                _add_lines(rest, unfolded[position:start])
                blocks.append(
                    RawBlock(
                        start=start,
                        stop=stop,
                        uid=uid if uids == 1 else None,
                        recurring=recurring,
                        digest=_digest(unfolded[start:stop]),
                        odd_uid=uids > 1 or (uids == 1 and uid is None),
                    )
                )
                position, start = stop, -1
        elif start >= 0:
            if name == "UID":
                if len(stack) != 2:  # a VALARM's UID, say
                    continue
                uids += 1
                uid = _plain_uid(separator, value)
            else:
                recurring = True
    if start >= 0 or stack:
        return None
    _add_lines(rest, unfolded[position:])
    return RawFeed(text=unfolded, blocks=blocks, rest_digest=_digest("\n".join(rest)))


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
