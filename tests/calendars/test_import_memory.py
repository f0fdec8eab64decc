"""The import's memory savings read the same feed the same way: the checked body is a view
(no copy), the parse can start from ``feed_text`` (so the caller lets the body go first), and
the bulk upsert writes in statements of BATCH_ROWS rows."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from calendars.ics import blocks
from calendars.ics.blocks import unfold
from calendars.ics.parse import (
    FeedText,
    InvalidCalendar,
    feed_text,
    parse_feed,
    text_pieces,
    unfolded_body,
)
from calendars.models import Event
from calendars.services import events_bulk
from calendars.services.events_upsert import upsert_feed_events
from tests.calendars.test_import import make_feed, make_listing

TODAY = date(2026, 12, 1)


def _event(n: int, summary: str = "Reserved") -> bytes:
    return (
        f"BEGIN:VEVENT\r\nUID:stay-{n}@example.com\r\nDTSTART;VALUE=DATE:202612{10 + n:02d}\r\n"
        f"DTEND;VALUE=DATE:202612{11 + n:02d}\r\nSUMMARY:{summary}\r\nDESCRIPTION:A long "
        f"description fol\r\n ded over two lines, caf\xc3\xa9 {n}\r\nEND:VEVENT\r\n"
    ).encode("latin-1")


def _feed(events: int, summary: str = "Reserved", tail: bytes = b"\r\n") -> bytes:
    head = b"\xef\xbb\xbfBEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\n"
    blocks = b"".join(_event(n, summary) for n in range(events))
    return head + blocks + b"END:VCALENDAR" + tail


@pytest.mark.parametrize("tail", [b"\r\n", b"", b"\r\nEND:VEVENT\r\ngarbage\r\n"])
def test_the_text_is_the_body_up_to_its_last_end_unfolded(tail):
    body = _feed(3, tail=tail)
    end = body.rindex(b"END:VCALENDAR") + len(b"END:VCALENDAR\r")
    expected = unfold(body[3:end] if tail else body[3:])
    assert feed_text(body).text == expected
    assert "caf\xe9 2" in expected and "fol\r\n ded" not in expected


@pytest.mark.parametrize("folds", [True, False])
def test_the_unfolded_body_is_a_copy_the_body_can_go_before(folds):
    body = _feed(2) if folds else _feed(2).replace(b"\r\n ded", b"ded")
    unfolded = unfolded_body(body)
    assert unfolded is not body and b"\r\n " not in unfolded
    assert FeedText.decode(unfolded) == feed_text(body)


@pytest.mark.parametrize("body", [b"", b" \r\n", b"<html>", b"BEGIN:VCALENDAR\r\nVERSION:2.0"])
def test_feed_text_refuses_what_parse_feed_refuses(body):
    with pytest.raises(InvalidCalendar):
        feed_text(body)
    with pytest.raises(InvalidCalendar):
        parse_feed(body)


def test_parsing_the_text_reads_the_same_as_parsing_the_body():
    body = _feed(6, tail=b"\r\nignored after the end\r\n")
    whole = parse_feed(body, default_tz="Europe/Paris", today=TODAY)
    from_text = parse_feed(feed_text(body), default_tz="Europe/Paris", today=TODAY)
    assert from_text == whole
    assert [e.description for e in whole.events][-1].endswith("caf\xe9 5")
    known = whole.raw_hashes
    again = parse_feed(
        feed_text(body), today=TODAY, default_tz="Europe/Paris", known=known,
        known_context=whole.context_hash,
    )  # fmt: skip
    assert (again.events, len(again.unchanged_uids)) == ([], 6)


@pytest.mark.postgres
def test_the_upsert_writes_in_batches_and_every_row_gets_its_key(
    alice, allow_private_urls, monkeypatch
):
    monkeypatch.setattr(events_bulk, "BATCH_ROWS", 2)
    feed = make_feed(make_listing(alice), "https://example.com/a.ics", "airbnb")
    now = datetime(2026, 12, 1, tzinfo=UTC)
    parsed = parse_feed(_feed(5), today=TODAY)
    counts = upsert_feed_events(feed, parsed.events, now=now)
    assert counts.created == 5
    stored = dict(Event.objects.filter(feed=feed).values_list("uid", "pk"))
    assert len(stored) == 5 and sorted(counts.changed_event_ids) == sorted(stored.values())
    changed = parse_feed(_feed(5, summary="Airbnb (Not available)"), today=TODAY)
    counts = upsert_feed_events(feed, changed.events, now=now)
    assert (counts.created, counts.updated) == (0, 5)
    assert sorted(counts.changed_event_ids) == sorted(stored.values())
    assert set(Event.objects.filter(feed=feed).values_list("summary", flat=True)) == {
        "Airbnb (Not available)"
    }


@pytest.mark.parametrize("window", [1, 2, 3, 5, 8, 13, 448])
def test_the_text_unfolded_in_windows_is_the_text_unfolded_whole(monkeypatch, window):
    # Folds (CRLF, LF, blank lines before the blank, a tab), multi-byte characters (and one
    # cut short), a lone CR: wherever the windows end, the pieces join to the same text.
    tricky = (
        b"BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:caf\xc3\xa9 \xe2\x82\xac fol\r\n ded\n\tagain\r\n"
        b"\r\n  blank lines first\r\nDESCRIPTION:cut \xe2\x82 short\rlone CR \xf0\x9f\x98\x80"
        b"\r\n \xc3\r\n \xa9 split\r\nEND:VEVENT\r\n"
    )
    body = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + tricky * 5 + b"END:VCALENDAR\r\n"
    whole = FeedText.decode(unfolded_body(body)).text  # the body unfolded at once
    assert "caf\xe9 \u20ac foldedagain blank" in whole
    assert "\ufffd short\rlone CR \U0001f600\xe9 split" in whole
    monkeypatch.setattr(blocks, "UNFOLD_WINDOW", window)
    pieces = text_pieces(body)
    assert len(pieces) > 1 or window == 448
    assert FeedText.join(pieces).text == whole and pieces == []
    assert feed_text(body).text == whole
