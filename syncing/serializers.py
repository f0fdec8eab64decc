"""REST representations of the engine's objects, and what domain serializers share."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from operator import attrgetter, itemgetter

from rest_framework import serializers
from rest_framework.fields import Field, SkipField
from rest_framework.relations import PKOnlyObject, PrimaryKeyRelatedField

from syncing.models import SyncAttempt, Tier


# A ModelSerializer's fields built once per class, a deep copy for each instance. DRF's
# ``ModelSerializer.get_fields`` works the fields out of the model again for every serializer
# instance (field info, names, kwargs: 55-150 µs for a listing, feed or event, once per list
# request), though they depend on the class alone (Meta, declared fields) unless a subclass
# makes them depend on the request: not for those. Each instance gets a deep copy, as DRF
# gives each instance of its declared fields, so binding one never touches another.
# (No docstring: drf-spectacular describes a serializer by the first one in its MRO.)
class BuiltFieldsMixin:
    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_built_fields")
        if built is None:  # two threads may both build them: either is kept, both the same
            built = super().get_fields()
            cls._built_fields = built
        return copy.deepcopy(built)


# DRF's ``Serializer.to_representation``, with how each field reads its value worked
# out once per serializer instance instead of once per row and field (for a list, the
# one child serializer reads every row). The output is DRF's, field for field:
#
# - a model field read as is: ``getattr`` (DRF's generic lookup also tries ``instance[name]``
#   and calls a callable; a concrete column is neither);
# - a key of a mapping: ``mapping[key]`` (mappings hold data, never callables), and a
#   missing key goes through the field's own ``get_attribute`` (default, null or skip);
# - a primary-key related field: the foreign key's column (``listing_id``), as DRF's
#   pk-only optimisation reads it;
# - anything else (dotted sources, properties, custom fields): the field's own
#   ``get_attribute``, as DRF calls it.
#
# ``None`` is represented as ``None`` and every other value by the field's
# ``to_representation``, as in DRF.
# (No docstring: drf-spectacular describes a serializer by the first one in its MRO.)
class FastRepresentationMixin:
    def to_representation(self, instance):
        ret = {}
        for name, read, represent, field in self._representation_plan(instance):
            try:
                value = read(instance)
            except (KeyError, AttributeError):
                try:
                    value = _field_read(field)(instance)  # DRF's handling, or its error
                except SkipField:
                    continue
            except SkipField:
                continue
            ret[name] = None if value is None else represent(value)
        return ret

    def _representation_plan(self, instance) -> list[tuple]:
        key = "_plan_mapping" if isinstance(instance, Mapping) else "_plan_object"
        plan = self.__dict__.get(key)
        if plan is None:  # two threads may both make it: the same list, either is kept
            mapping = key == "_plan_mapping"
            plan = [_step(self, field, mapping) for field in self._readable_fields]
            self.__dict__[key] = plan
        return plan


def _step(serializer, field, mapping: bool) -> tuple:
    """(name, read, represent, field) for one readable field; see FastRepresentationMixin."""
    represent = field.to_representation
    attrs = field.source_attrs
    plain = type(field).get_attribute is Field.get_attribute
    if plain and not attrs:  # source="*": the instance itself (SerializerMethodField)
        return field.field_name, _itself, represent, field
    if plain and len(attrs) == 1 and (mapping or _column(serializer, attrs[0])):
        read = itemgetter(attrs[0]) if mapping else attrgetter(attrs[0])
        return field.field_name, read, represent, field
    if not mapping and len(attrs) == 1 and _pk_only(field):
        relation = _column(serializer, attrs[0], relation=True)
        if relation is not None:
            return field.field_name, attrgetter(relation.attname), _itself, field
    return field.field_name, _field_read(field), represent, field


def _itself(value):
    return value


def _column(serializer, name: str, *, relation: bool = False):
    """The model's concrete field ``name`` (a foreign key with ``relation``), or None."""
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    if model is None:
        return None
    for column in model._meta.concrete_fields:
        if column.name == name and bool(column.is_relation) == relation:
            return column
    return None


def _pk_only(field) -> bool:
    return (
        isinstance(field, PrimaryKeyRelatedField)
        and type(field).get_attribute is PrimaryKeyRelatedField.get_attribute
        and type(field).to_representation is PrimaryKeyRelatedField.to_representation
        and field.use_pk_only_optimization()
        and field.pk_field is None
    )


def _field_read(field):
    """The field's own ``get_attribute``, a pk-only object of no pk read as None (as DRF)."""

    def read(instance):
        value = field.get_attribute(instance)
        if isinstance(value, PKOnlyObject) and value.pk is None:
            return None
        return value

    return read


class SyncAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncAttempt
        fields = [
            "id",
            "kind",
            "item_id",
            "tier",
            "started_at",
            "duration_ms",
            "outcome",
            "reason",
            "message",
            "http_status",
            "bytes",
            "items_changed",
            "retries",
            "counts",
        ]
        read_only_fields = fields


class TierSerializer(serializers.ModelSerializer):
    interval_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Tier
        fields = ["id", "kind", "name", "interval_seconds", "batch_limit", "enabled"]
        read_only_fields = fields

    def get_interval_seconds(self, tier: Tier) -> int | None:
        return int(tier.interval.total_seconds()) if tier.interval else None


class SyncedItemStatusMixin(serializers.Serializer):
    """The engine's status fields, read-only, for domain serializers of synced items."""

    tier = serializers.CharField(read_only=True)
    last_synced_at = serializers.DateTimeField(read_only=True)
    last_success_at = serializers.DateTimeField(read_only=True)
    next_sync_at = serializers.DateTimeField(read_only=True)
    consecutive_failures = serializers.IntegerField(read_only=True)
    paused = serializers.BooleanField(read_only=True)
    pause_reason = serializers.CharField(read_only=True)
    last_error = serializers.CharField(read_only=True)

    SYNC_STATUS_FIELDS = [
        "tier",
        "last_synced_at",
        "last_success_at",
        "next_sync_at",
        "consecutive_failures",
        "paused",
        "pause_reason",
        "last_error",
    ]
