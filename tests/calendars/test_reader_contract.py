"""The refined reader's contract with icalendar (issue 15).

``calendars.ics.reader`` subclasses icalendar's parser classes to read feeds faster. Those
classes are icalendar's internals: an upgrade can change them without any public API
changing. This test pins the contract instead of the internals: every calendar of the
feed corpus (the 143 public calendars in ``../shared/realworld-ics`` and this suite's own
channel feeds in ``tests/calendars/feeds``) is read by the refined reader and by plain
``icalendar.Calendar``, and every VEVENT property the import reads must come out the same
(value and parameters, in order), every other component whole. A file that plain
icalendar refuses must be refused too. An icalendar upgrade that changes what the
subclass overrides fails here, loudly, file by file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import icalendar
import pytest
from django.conf import settings

from calendars.ics.reader import VEVENT_PROPERTIES, FeedCalendar

REALWORLD = Path(settings.BASE_DIR).parent / "shared" / "realworld-ics"
OWN_FEEDS = Path(__file__).parent / "feeds"
FILES = sorted(REALWORLD.glob("*.ics")) + sorted(OWN_FEEDS.glob("*.ics"))


def _value(prop) -> tuple:
    params = tuple(sorted((k, str(v)) for k, v in getattr(prop, "params", {}).items()))
    return (prop.to_ical() if hasattr(prop, "to_ical") else prop, params)


def _read(calendar_class, body: bytes):
    """What the import can see of a file: each VEVENT's read properties, and every other
    component as icalendar would write it; or the error's type."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            calendars = calendar_class.from_ical(body, multiple=True)
        except Exception as exc:  # noqa: BLE001 - the contract covers refusals too
            return type(exc).__name__
    events, others = [], []
    for calendar in calendars:
        for component in calendar.walk():
            if component.name == "VEVENT":
                events.append(
                    [
                        (name, _value(prop))
                        for name, prop in component.property_items(recursive=False)
                        if name in VEVENT_PROPERTIES
                    ]
                )
            elif component.name != "VCALENDAR":
                others.append(component.to_ical())
    return events, others


def test_the_corpus_is_there():
    own = [f for f in FILES if f.parent == OWN_FEEDS]
    assert len(own) >= 10
    if not REALWORLD.is_dir():
        pytest.skip(f"no real-world calendars at {REALWORLD} (../shared/realworld-ics)")
    assert len(FILES) - len(own) == 143


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_the_refined_reader_reads_what_icalendar_reads(path):
    body = path.read_bytes()
    plain = _read(icalendar.Calendar, body)
    refined = _read(FeedCalendar, body)
    if isinstance(plain, str):
        assert refined == plain, f"icalendar refuses {path.name} ({plain}); the reader does not"
        return
    assert not isinstance(refined, str), f"the reader refuses {path.name} ({refined})"
    plain_events, plain_others = plain
    refined_events, refined_others = refined
    assert len(refined_events) == len(plain_events)
    for index, (mine, theirs) in enumerate(zip(refined_events, plain_events, strict=True)):
        assert mine == theirs, f"{path.name}: VEVENT #{index} differs"
    assert refined_others == plain_others


def test_the_reader_still_reads_less_than_icalendar():
    """The point of the subclass: a VEVENT property the import never reads (here LOCATION
    and an X- property) is dropped unparsed. If an upgrade bypasses the override, this
    fails while the contract above still holds."""
    body = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:a\r\n"
        b"DTSTART;VALUE=DATE:20270101\r\nDTEND;VALUE=DATE:20270103\r\nLOCATION:Here\r\n"
        b"X-CUSTOM:1\r\nSUMMARY:Booked\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    (event,) = FeedCalendar.from_ical(body).walk("VEVENT")
    assert "LOCATION" not in event and "X-CUSTOM" not in event
    assert str(event["SUMMARY"]) == "Booked"
    (plain,) = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert "LOCATION" in plain
