from rest_framework import serializers

from syncing.webhooks import services
from syncing.webhooks.models import WebhookDelivery, WebhookEndpoint


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(services.EVENT_TYPES)), allow_empty=False
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "events",
            "enabled",
            "disabled_reason",
            "failing_since",
            "created_at",
        ]
        read_only_fields = ["id", "disabled_reason", "failing_since", "created_at"]

    def validate_url(self, value: str) -> str:
        try:
            return services.validate_url(value)
        except services.InvalidWebhook as exc:
            raise serializers.ValidationError(str(exc))

    def validate_events(self, value: list[str]) -> list[str]:
        try:
            return services.validate_events(value)
        except services.InvalidWebhook as exc:
            raise serializers.ValidationError(str(exc))


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    """The answer to a create (or a secret rotation): the only time the secret is shown."""

    secret = serializers.CharField(read_only=True)

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "payload",
            "created_at",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "delivered_at",
            "response_status",
            "response_body",
            "error",
            "replay_of",
        ]
        read_only_fields = fields
