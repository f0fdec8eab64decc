"""BuiltFieldsMixin: a ModelSerializer's fields built once per class, the same fields as
DRF's, and each instance's its own."""

from rest_framework import serializers

from calendars.models import Listing
from calendars.serializers import EventSerializer, FeedSerializer, ListingSerializer
from syncing.serializers import BuiltFieldsMixin


def plain(cls):
    """The serializer with DRF's own get_fields."""
    return type(
        f"Plain{cls.__name__}", (cls,), {"get_fields": serializers.ModelSerializer.get_fields}
    )


def test_the_fields_are_drf_s_field_for_field():
    for cls in (ListingSerializer, FeedSerializer, EventSerializer):
        ours, drf = cls(), plain(cls)()
        assert list(ours.fields) == list(drf.fields)
        for name, field in ours.fields.items():
            assert repr(field) == repr(drf.fields[name]), (cls.__name__, name)
        assert cls().get_fields().keys() == ours.fields.keys()  # and again, from the cache


def test_each_instance_binds_fields_of_its_own():
    first, second = FeedSerializer(context={"n": 1}), FeedSerializer(context={"n": 2})
    for name in first.fields:
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first and second.fields[name].parent is second
    assert first.fields["listing"].root.context == {"n": 1}
    assert "_built_fields" in FeedSerializer.__dict__
    assert all(field.parent is None for field in FeedSerializer._built_fields.values())


def test_a_subclass_builds_its_own():
    class Smaller(BuiltFieldsMixin, serializers.ModelSerializer):
        class Meta:
            model = Listing
            fields = ["id", "name"]

    class Bigger(Smaller):
        class Meta:
            model = Listing
            fields = ["id", "name", "timezone"]

    assert list(Smaller().fields) == ["id", "name"]
    assert list(Bigger().fields) == ["id", "name", "timezone"]
    assert list(Smaller().fields) == ["id", "name"]
