"""Which raw VEVENT blocks the parser may leave undecoded, from a string scan alone.

    plan = plan_blocks(raw, window, max_events, max_raw, known, is_echo)
    plan.undecoded, plan.unchanged, plan.cut, plan.left_out

Four kinds of block are never decoded:

- *unchanged*: a block whose raw hash is the one stored on the feed's live event of that
  uid (re-imports; only when the feed is not over the cap);
- *outside*: every copy of its UID has a scanned span (for a series: from DTSTART to its
  RRULE's UNTIL, or endless) wholly outside the window, with two days' margin for zones and
  times of day: not imported;
- *beyond the cap*: a plain VEVENT with a UID of its own, surely inside the window, that
  starts (by the scan) days after more than ``max_events`` other such blocks: the cap would
  drop it; it counts in ``left_out`` and the cut is lowered to where it might start;
- *unread*: blocks past ``max_raw`` still to decode (hostile input): they count in
  ``left_out`` and nothing can be judged gone (``covers_nothing``).

When unsure (no scan of the dates, a UID seen twice, a recurring block) a block is decoded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from datetime import date as Date

from calendars.ics.blocks import RawBlock, RawFeed

MARGIN_DAYS = 2  # a scanned date is within a day or two of the UTC instant it stands for


@dataclass
class Plan:
    unchanged: list[int] = field(default_factory=list)
    outside: list[int] = field(default_factory=list)
    beyond: list[int] = field(default_factory=list)
    unread_blocks: list[int] = field(default_factory=list)
    cut: datetime | None = None
    left_out: int = 0
    covers_nothing: bool = False  # blocks were left unread: nothing can be judged gone

    @property
    def undecoded(self) -> list[int]:
        return sorted({*self.unchanged, *self.outside, *self.beyond, *self.unread_blocks})

    def unread(self, count: int) -> None:
        """``count`` blocks were not read at all: left out, and no coverage claimed."""
        self.left_out += count
        self.covers_nothing = self.covers_nothing or count > 0


def block_hashes(raw: RawFeed | None) -> tuple[dict[str, str], dict[str, int]]:
    """(uid -> raw hash, uid -> block index) of the blocks that may be skipped next time:
    not recurring, with a plain UID found in no other block. Nothing at all when a block's
    UID cannot be read by a string scan (it might repeat another block's UID)."""
    if raw is None:
        return {}, {}
    counts = _uid_counts(raw)
    if counts is None:
        return {}, {}
    candidates = {
        block.uid: index
        for index, block in enumerate(raw.blocks)
        if block.uid is not None and counts[block.uid] == 1 and not block.recurring
    }
    return {uid: raw.blocks[index].digest for uid, index in candidates.items()}, candidates


def _uid_counts(raw: RawFeed) -> Counter | None:
    if any(block.odd_uid for block in raw.blocks):
        return None
    return Counter(block.uid for block in raw.blocks if block.uid is not None)


def plan_blocks(
    raw: RawFeed | None,
    window: tuple[datetime, datetime],
    max_events: int,
    max_raw: int,
    known: Mapping[str, str],
    is_echo: Callable[[str], bool],
) -> Plan:
    """The plan for ``raw`` (see the module); an empty plan when the feed could not be split."""
    plan = Plan()
    if raw is None:
        return plan
    first, last = window[0].date().toordinal(), window[1].date().toordinal()
    plan.outside = _outside(raw, first, last)
    blocks = raw.blocks  # each item is made when read (blocks.RawBlocks): read it once
    inside = [
        index
        for index in _sure_singles(raw, plan.outside)
        if (block := blocks[index]).days[0] + MARGIN_DAYS < last
        and block.days[1] - MARGIN_DAYS > first
        and not is_echo(block.uid)
    ]
    _beyond_the_cap(raw, inside, max_events, plan)
    if not plan.beyond:
        hashes, candidates = block_hashes(raw)
        skipped = set(plan.outside)
        plan.unchanged = sorted(
            index
            for uid, index in candidates.items()
            if index not in skipped and known.get(uid) == hashes[uid]
        )
    undecoded = set(plan.undecoded)
    rest = [index for index in range(len(raw.blocks)) if index not in undecoded]
    if len(rest) > max_raw:
        plan.unread_blocks = rest[max_raw:]
        plan.unread(len(plan.unread_blocks))
    return plan


def _outside(raw: RawFeed, first: int, last: int) -> list[int]:
    """Blocks of UIDs whose every copy (every occurrence, for a series: see
    blocks.RawBlock.days) is scanned wholly outside the window."""
    verdict: dict[str | None, bool] = {}
    for block in raw.blocks:
        out = (
            not block.odd_uid
            and block.days is not None
            and (block.days[1] + MARGIN_DAYS < first or block.days[0] - MARGIN_DAYS > last)
        )
        verdict[block.uid] = verdict.get(block.uid, True) and out
    return [
        index
        for index, block in enumerate(raw.blocks)
        if block.uid is not None and verdict[block.uid]
    ]


def _sure_singles(raw: RawFeed, outside: list[int]) -> list[int]:
    """Blocks that stand alone for their event: plain, a UID of their own, dates scanned."""
    counts = Counter(block.uid for block in raw.blocks)
    skip = set(outside)
    return [
        index
        for index, block in enumerate(raw.blocks)
        if index not in skip and _single(block) and counts[block.uid] == 1
    ]


def _single(block: RawBlock) -> bool:
    return (
        block.uid is not None
        and not block.odd_uid
        and not block.recurring
        and block.days is not None
    )


def _beyond_the_cap(raw: RawFeed, inside: list[int], max_events: int, plan: Plan) -> None:
    """Blocks the cap would surely drop (see the module): more than ``max_events`` blocks
    that will be imported start on or before day A, so the cut falls before A + 2 days;
    a block scanned to start after A + 4 days starts after it."""
    if len(inside) <= max_events:
        return
    starts = sorted(raw.blocks[index].days[0] for index in inside)
    bound = starts[max_events] + 2 * MARGIN_DAYS
    plan.beyond = [index for index in inside if raw.blocks[index].days[0] > bound]
    if plan.beyond:
        earliest = min(raw.blocks[index].days[0] for index in plan.beyond) - MARGIN_DAYS
        plan.cut = datetime.combine(Date.fromordinal(earliest), time(), tzinfo=UTC)
        plan.left_out += len(plan.beyond)
