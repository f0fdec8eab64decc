from rest_framework import serializers

from syncing.models import SyncAttempt, Tier


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
