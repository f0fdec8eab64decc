"""The API's alarm and briefing shapes. Field names are part of the public contract."""

from __future__ import annotations

from rest_framework import serializers

from alarms.models import MAX_LEAD_MINUTES, Alarm, Briefing
from alarms.services import audio_links, clock
from alarms.services.schedule import Rule, next_ring
from syncing.validation import is_known_zone, validate_date_in_range, validate_single_line


class AlarmSerializer(serializers.ModelSerializer):
    time = serializers.TimeField(
        format="%H:%M", input_formats=["%H:%M", "%H:%M:%S"], help_text='Local time, "HH:MM".'
    )
    timezone = serializers.CharField(max_length=64, help_text='IANA zone ("Europe/Berlin").')
    label = serializers.CharField(
        max_length=Alarm._meta.get_field("label").max_length,
        required=False,
        allow_blank=True,
        validators=[validate_single_line],
    )
    date = serializers.DateField(
        required=False,
        allow_null=True,
        format="%Y-%m-%d",
        input_formats=["%Y-%m-%d"],
        help_text='A one-off\'s local date "YYYY-MM-DD"; else null.',
    )
    days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        required=False,
        max_length=7,
        help_text="Weekdays, 0 = Monday .. 6 = Sunday; empty for a one-off.",
    )
    lead_minutes = serializers.IntegerField(
        min_value=1, max_value=MAX_LEAD_MINUTES, required=False, default=58
    )
    next_ring_at = serializers.DateTimeField(read_only=True)

    class Meta:
        model = Alarm
        fields = [
            "id",
            "label",
            "time",
            "timezone",
            "date",
            "days",
            "lead_minutes",
            "voice",
            "active",
            "next_ring_at",
        ]
        read_only_fields = ["id", "next_ring_at"]

    def validate_timezone(self, value: str) -> str:
        value = value.strip()
        if not is_known_zone(value):  # a folder ("America") is no zone
            raise serializers.ValidationError(
                f"{value[:64]!r} is not a known IANA time zone (e.g. Europe/Berlin)."
            )
        return value

    def validate_date(self, value):
        if value is not None:
            validate_date_in_range(value)  # 9999-12-31 in a zone would overflow
        return value

    def validate_days(self, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise serializers.ValidationError("Each weekday may appear once.")
        return sorted(value)

    def validate(self, attrs: dict) -> dict:
        """One-off or repeating, never both; a one-off must still be ahead."""
        current = self.instance
        days = attrs["days"] if "days" in attrs else list(getattr(current, "days", []) or [])
        day = attrs["date"] if "date" in attrs else getattr(current, "date", None)
        # Switching kind with a partial update drops the other kind's field.
        if attrs.get("days") and "date" not in attrs:
            day = None
        if attrs.get("date") and "days" not in attrs:
            days = []
        if days and day:
            raise serializers.ValidationError(
                {"date": "A repeating alarm (days given) has no date; send date: null."}
            )
        if not days and not day:
            raise serializers.ValidationError(
                {
                    "date": "A one-off alarm needs a date (YYYY-MM-DD); a repeating alarm needs "
                    "days (0 = Monday .. 6 = Sunday)."
                }
            )
        attrs["days"], attrs["date"] = days, day
        active = attrs.get("active", getattr(current, "active", True))
        at = attrs.get("time", getattr(current, "time", None))
        zone = attrs.get("timezone", getattr(current, "timezone", None))
        one_off = Rule(time=at, timezone=zone, days=[], date=day)
        if not days and active and at and zone and next_ring(one_off, clock.now()) is None:
            raise serializers.ValidationError(
                {"date": f"{day} {at:%H:%M} in {zone} has already passed."}
            )
        return attrs


class BriefingSerializer(serializers.ModelSerializer):
    audio_url = serializers.SerializerMethodField()

    class Meta:
        model = Briefing
        fields = [
            "id",
            "alarm",
            "ring_at",
            "status",
            "engine",
            "duration_ms",
            "script",
            "generated_at",
            "expires_at",
            "audio_url",
        ]
        read_only_fields = fields

    def get_audio_url(self, briefing: Briefing) -> str | None:
        return audio_url(self.context.get("request"), briefing)


class NextBriefingSerializer(serializers.Serializer):
    ring_at = serializers.DateTimeField(allow_null=True)
    status = serializers.CharField(allow_null=True)
    audio_url = serializers.CharField(allow_null=True)
    script = serializers.CharField(allow_blank=True)


def audio_url(request, briefing: Briefing) -> str | None:
    """A signed, expiring URL for the briefing's audio, or None when it has none yet."""
    if not briefing.has_audio or briefing.status == "pending" or briefing.status == "failed":
        return None
    path = audio_links.audio_path(briefing)
    return request.build_absolute_uri(path) if request is not None else path
