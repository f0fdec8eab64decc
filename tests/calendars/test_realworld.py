"""The real-world differential test of issue 9 ("Done means").

143 public calendars in ``../shared/realworld-ics`` (sources in its manifest.tsv; not copied
into this repository) are read by the product's ``parse_feed`` and compared event by event
with recurring-ical-events (X-WR-TIMEZONE applied with x-wr-timezone) over the import
window: the same multiset of (UID, start, end, all day) after normalising to the product's
conventions (UTC instants, exclusive all-day ends, floating times in the feed's or the
listing's zone, occurrence and duplicate suffixes taken off the uid, events kept when they
overlap the window). Each file is compared at two dates: a fixed "today" (2026-12-01) and
the file's own (its first DTSTART + 30 days), so old test calendars are compared too.

Every difference is listed in DIFFERENCES with its reason (a contract difference) and its
exact counts: a new difference fails, and so does a listed one that went away. A sample is
also imported end to end through the engine over HTTP (feeds served on 127.0.0.1).
"""

from __future__ import annotations

import functools
import re
import warnings
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
import x_wr_timezone
from django.conf import settings

from calendars.ics import InvalidCalendar, parse_feed
from calendars.ics.model import ParsedEvent
from calendars.ics.window import overlaps
from calendars.models import Event, EventStatus
from tests.calendars.test_import import Body, make_feed, make_listing, run_sync
from tests.support.http import local_server

REALWORLD = Path(settings.BASE_DIR).parent / "shared" / "realworld-ics"
FILES = sorted(REALWORLD.glob("*.ics")) if REALWORLD.is_dir() else []
pytestmark = pytest.mark.skipif(
    not FILES, reason=f"no real-world calendars at {REALWORLD} (../shared/realworld-ics)"
)

LISTING_TZ = "Europe/Paris"
FIXED_TODAY = date(2026, 12, 1)
_SUFFIX = re.compile(r"#(\d{8}(T\d{6}Z)?|dup-[0-9a-f]{12})$")
_FIRST_DTSTART = re.compile(rb"^DTSTART[^:\r\n]*:(\d{8})", re.MULTILINE)

# Contract differences: file -> (reason, {"fixed"/"own": (only in the product, only in
# recurring-ical-events)}). The reasons, for the README:
ZERO_DAY = "all-day DTEND = DTSTART: the product reads one day, r-i-e a zero-length event"
TIED_COPIES = (
    "one UID twice with equal SEQUENCE and DTSTAMP and other dates: the product keeps both "
    "(issue 9 point 5), r-i-e one"
)
PLAIN_AND_SERIES = (
    "one UID for a plain VEVENT and an RRULE series: the product imports both, r-i-e lets "
    "the plain one stand for the series"
)
SWAPPED = "DTEND before DTSTART: the product skips it (end_before_start, reported), r-i-e swaps"
DATE_THEN_TIME = (
    "DTSTART a DATE, DTEND a DATE-TIME: the product reads an all-day event (end day rounded "
    "up), r-i-e a timed one from midnight UTC"
)
TZID_CASE = (
    "TZID=Europe/lisbon: the product matches IANA names regardless of case, r-i-e reads a "
    "floating time"
)
DIFFERENCES: dict[str, tuple[str, dict[str, tuple[int, int]]]] = {
    "004_airbnb.ics": (SWAPPED, {"own": (0, 1)}),
    "005_clash.ics": (TIED_COPIES, {"own": (1, 0)}),
    "006_clash2.ics": (TIED_COPIES, {"own": (1, 0)}),
    "015_basic.ics": (TIED_COPIES, {"own": (1, 0)}),
    "016_simple.ics": (PLAIN_AND_SERIES, {"fixed": (2, 0), "own": (4, 0)}),
    "022_Germany_Holidays.ics": (ZERO_DAY, {"own": (34, 34)}),
    "039_issue_132_swapped_start_and_end.ics": (SWAPPED, {"own": (0, 1)}),
    "052_issue_201_mixed_datetime_and_date.ics": (DATE_THEN_TIME, {"own": (1, 1)}),
    "053_issue_201_test_matrix.ics": (DATE_THEN_TIME, {"own": (4, 4)}),
    "092_issue42.ics": (TZID_CASE, {"fixed": (43, 43)}),
    "099_example.ics": (ZERO_DAY, {"own": (3, 3)}),
}
# Not iCalendar for the product (InvalidCalendar): file -> reason.
INVALID = {"097_big_bad_calendar.ics": "cut short: no END:VCALENDAR"}


def own_today(body: bytes) -> date:
    match = _FIRST_DTSTART.search(body)
    if match is None:
        return FIXED_TODAY
    return datetime.strptime(match[1].decode(), "%Y%m%d").date() + timedelta(days=30)


def _instant(value, zone):
    if isinstance(value, datetime):
        value = value if value.tzinfo is not None else value.replace(tzinfo=zone)
        return value.astimezone(ZoneInfo("UTC")).replace(microsecond=0)
    return value


@functools.lru_cache(maxsize=1)
def _icalendar_parse(body: bytes) -> icalendar.Calendar:
    """icalendar's reading of ``body``, kept for the file's second window: the parse is most of
    the reference's time (2-3 s for each of the two largest files). Only read, never changed."""
    return icalendar.Calendar.from_ical(body, multiple=True)[0]


def reference(body: bytes, window) -> Counter:
    """recurring-ical-events' events overlapping ``window``, one UID at a time (a UID it
    cannot read is counted as (uid, "ERROR"))."""
    calendar = _icalendar_parse(body)
    floating = ZoneInfo(LISTING_TZ)
    if calendar.get("X-WR-TIMEZONE"):
        try:
            floating = ZoneInfo(str(calendar["X-WR-TIMEZONE"]))
            calendar = x_wr_timezone.to_standard(calendar)
        except (ValueError, KeyError):
            pass
    by_uid = defaultdict(list)
    for component in calendar.walk("VEVENT"):
        by_uid[str(component.get("UID", "")).strip()].append(component)
    zones = list(calendar.walk("VTIMEZONE"))
    found: Counter = Counter()
    for uid, components in by_uid.items():
        one = icalendar.Calendar()
        for component in [*zones, *components]:
            one.add_component(component)
        try:
            margin = timedelta(days=2)
            occurrences = recurring_ical_events.of(one).between(
                window[0] - margin, window[1] + margin
            )
        except Exception:  # noqa: BLE001 - any failure of the reference is recorded
            found[(uid, "ERROR")] += 1
            continue
        for occurrence in occurrences:
            start = occurrence["DTSTART"].dt
            end = occurrence["DTEND"].dt if "DTEND" in occurrence else start
            all_day = not isinstance(start, datetime)
            start, end = _instant(start, floating), _instant(end, floating)
            if overlaps(_event(start, end, all_day), window, ZoneInfo(LISTING_TZ)):
                found[(uid, start, end, all_day)] += 1
    return found


def _event(start, end, all_day) -> ParsedEvent:
    return ParsedEvent(
        uid="",
        start=start,
        end=end,
        all_day=all_day,
        summary="",
        description="",
        status="confirmed",
        blocking=True,
        kind="block",
        sequence=0,
        dtstamp=None,
    )


def product_key(uid: str) -> str:
    return "" if uid.startswith("nouid-") else _SUFFIX.sub("", uid)


@functools.cache
def compare_file(path: Path, mode: str) -> tuple[int, Counter, Counter]:
    body = path.read_bytes()
    return compare(body, FIXED_TODAY if mode == "fixed" else own_today(body))


def compare(body: bytes, today: date) -> tuple[int, Counter, Counter]:
    """(events matched, only in the product, only in recurring-ical-events)."""
    parsed = parse_feed(body, default_tz=LISTING_TZ, today=today)
    ours = Counter((product_key(e.uid), e.start, e.end, e.all_day) for e in parsed.events)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = reference(body, parsed.window)
    for key in [key for key in theirs if key[1] == "ERROR"]:
        # r-i-e cannot read this UID: the product must not import it either (any event of
        # it would show in ``ours``); it skips it with a reason, or it lies outside the window.
        del theirs[key]
    return sum((ours & theirs).values()), ours - theirs, theirs - ours


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_product_reads_like_recurring_ical_events(path):
    body = path.read_bytes()
    if path.name in INVALID:
        with pytest.raises(InvalidCalendar):
            parse_feed(body, default_tz=LISTING_TZ, today=FIXED_TODAY)
        return
    listed = DIFFERENCES.get(path.name, ("", {}))[1]
    for mode in ("fixed", "own"):
        _, ours, theirs = compare_file(path, mode)
        counts = (sum(ours.values()), sum(theirs.values()))
        assert counts == listed.get(mode, (0, 0)), (mode, list(ours)[:3], list(theirs)[:3])


def test_figures_for_the_readme(capsys):
    """Files, events matched and listed differences (printed with -s; checked loosely)."""
    matched = differing = 0
    for path in FILES:
        if path.name in INVALID:
            continue
        for mode in ("fixed", "own"):
            count, ours, theirs = compare_file(path, mode)
            matched += count
            differing += sum(ours.values()) + sum(theirs.values())
    listed = sum(a + b for _, modes in DIFFERENCES.values() for a, b in modes.values())
    with capsys.disabled():
        print(
            f"\nreal-world: {len(FILES)} files, {matched} events matched, "
            f"{differing} differing events in {len(DIFFERENCES)} listed files "
            f"({len({reason for reason, _ in DIFFERENCES.values()})} reasons), "
            f"{len(INVALID)} invalid"
        )
    assert differing == listed and matched > 10_000


# End to end: a sample imported through the engine over HTTP ------------------------------
# Files with events in the window today (channels, Google, Outlook and tricky recurrences).
SAMPLE = [
    "003_airbnb.ics",
    "011_airbnb.ics",
    "012_booking.ics",
    "015_basic.ics",
    "016_simple.ics",
    "018_basic.ics",
    "019_Holidays_US.ics",
    "020_irrlichtev.ics",
    "033_fablab_cottbus.ics",
    "066_issue_48_dst.ics",
    "092_issue42.ics",
    "113_biweekly-exdate-until.ics",
    "127_ms_timezones.ics",
]


def _with_a_past_event(body: bytes) -> bytes:
    end = body.rstrip().rfind(b"END:VCALENDAR")
    past = b"BEGIN:VEVENT\r\nUID:e2e-past@test\r\nDTSTART;VALUE=DATE:20000101\r\nEND:VEVENT\r\n"
    return body[:end] + past + body[end:]


@pytest.mark.django_db
def test_a_sample_imported_end_to_end_matches_the_parse(alice, allow_private_urls):
    sample = [REALWORLD / name for name in SAMPLE if (REALWORLD / name).exists()]
    routes = {f"/{path.name}": Body(path.read_bytes()) for path in sample}
    listing = make_listing(alice, tz=LISTING_TZ)
    imported = not_decoded = 0
    with local_server(routes) as server:
        for path in sample:
            feed = make_feed(listing, f"{server.url}/{path.name}")
            attempt = run_sync(feed)
            assert attempt.outcome == "ok", (path.name, attempt.message)
            stored = {
                (e.uid, e.start_value, e.end_value, e.all_day)
                for e in Event.objects.filter(feed=feed).exclude(status=EventStatus.CANCELLED)
            }
            parsed = parse_feed(path.read_bytes(), default_tz=LISTING_TZ, today=date.today())
            expected = {(e.uid, e.start, e.end, e.all_day) for e in parsed.events}
            assert stored == expected, path.name
            if path.name not in DIFFERENCES:  # and event by event as recurring-ical-events
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    theirs = reference(path.read_bytes(), parsed.window)
                theirs = Counter({key: n for key, n in theirs.items() if key[1] != "ERROR"})
                assert Counter((product_key(uid), *rest) for uid, *rest in stored) == theirs
            imported += len(stored)
            # The same blocks plus one long past: unchanged blocks are not decoded again,
            # the past one is not even decoded, and nothing changes.
            routes[f"/{path.name}"].body = _with_a_past_event(path.read_bytes())
            routes[f"/{path.name}"].etag = '"v2"'
            again = run_sync(feed)
            assert again.outcome == "ok" and again.items_changed == 0, path.name
            assert again.counts["decoded"] <= attempt.counts["decoded"], path.name
            not_decoded += again.counts["not_decoded"]
    assert imported > 1000 and not_decoded > 100
