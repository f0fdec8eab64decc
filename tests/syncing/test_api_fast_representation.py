"""FastRepresentationMixin answers what DRF's own Serializer.to_representation answers,
including where a field's value is missing, null or read through the field itself."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from syncing.serializers import FastRepresentationMixin


class Inner(FastRepresentationMixin, serializers.Serializer):
    code = serializers.CharField()


class Row(FastRepresentationMixin, serializers.Serializer):
    count = serializers.IntegerField()
    label = serializers.CharField(default="none")
    maybe = serializers.CharField(allow_null=True)
    optional = serializers.CharField(required=False)
    nested = serializers.CharField(source="inner.code", required=False)
    items = Inner(many=True, required=False)
    flags = serializers.DictField(child=serializers.BooleanField(), required=False)
    whole = serializers.SerializerMethodField()

    def get_whole(self, row) -> int:
        return len(row)


def stock(data):
    return serializers.Serializer.to_representation(Row(), data)


@pytest.mark.parametrize(
    "data",
    [
        {"count": "3", "label": 5, "maybe": "x", "optional": 1, "inner": {"code": 7}},
        {"count": 1},  # default, null, skipped
        {"count": 1, "maybe": None, "items": [{"code": 1}, {"code": "b"}], "flags": {"a": 1}},
        {"count": None, "label": None, "flags": {"b": "false", 3: None}},
    ],
)
def test_the_same_as_drf(data):
    assert Row().to_representation(data) == stock(data)


def test_a_required_value_missing_is_drfs_error():
    with pytest.raises(KeyError):
        stock({})
    with pytest.raises(KeyError):
        Row().to_representation({})


def test_one_plan_per_serializer_for_every_row():
    row = Row()
    assert row.to_representation({"count": 1})["count"] == 1
    plan = row.__dict__["_plan_mapping"]
    assert row.to_representation({"count": 2, "label": "x"}) == stock({"count": 2, "label": "x"})
    assert row.__dict__["_plan_mapping"] is plan


@pytest.mark.django_db
def test_a_model_row_with_an_unset_relation_is_null(alice):
    from calendars.models import Event, Feed, Listing
    from calendars.serializers import EventSerializer

    listing = Listing.objects.create(owner=alice, name="Flat")
    feed = Feed.objects.create(listing=listing, url="https://x.test/a.ics", source="other")
    event = Event.objects.create(
        feed=feed, uid="u", start="2027-01-01T15:00Z", end="2027-01-02T11:00Z"
    )
    event.refresh_from_db()
    fast = EventSerializer(event).data
    assert fast["echo_of"] is None and fast["feed"] == feed.pk and fast["listing"] == listing.pk
    assert fast == serializers.Serializer.to_representation(EventSerializer(), event)
