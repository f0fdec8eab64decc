"""The alarms API: CRUD on alarms, the next briefing, briefing history; owner-scoped."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from alarms.models import Alarm, Briefing
from alarms.selectors import next_briefing
from alarms.serializers import (
    AlarmSerializer,
    BriefingSerializer,
    NextBriefingSerializer,
    audio_url,
)
from alarms.services import clock
from alarms.services.alarms import AlarmLimitReached, alarm_create, alarm_update
from syncing.api import OwnerScopedMixin


def _as_api_error(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


class AlarmViewSet(OwnerScopedMixin, viewsets.ModelViewSet):
    """The owner's alarms. A one-off has a `date` and no `days`; a repeating one has `days`
    (0 = Monday) and `date: null`. `next_ring_at` is the next ring in UTC."""

    queryset = Alarm.objects.order_by("time", "pk")
    serializer_class = AlarmSerializer
    filterset_fields = ["active"]

    def perform_create(self, serializer: AlarmSerializer) -> None:
        try:
            serializer.instance = alarm_create(self.request.user, **serializer.validated_data)
        except AlarmLimitReached as exc:
            raise ValidationError({"detail": str(exc)})
        except DjangoValidationError as exc:
            raise _as_api_error(exc)

    def perform_update(self, serializer: AlarmSerializer) -> None:
        try:
            serializer.instance = alarm_update(serializer.instance, **serializer.validated_data)
        except DjangoValidationError as exc:
            raise _as_api_error(exc)

    @extend_schema(responses=NextBriefingSerializer)
    @action(detail=True, methods=["get"], url_path="next")
    def next(self, request: Request, pk: str | None = None) -> Response:
        """The next ring (UTC), its briefing's status, script and a signed, expiring
        audio URL once it has audio."""
        alarm = self.get_object()
        ring_at, briefing = next_briefing(alarm, clock.now())
        data = {
            "ring_at": ring_at,
            "status": briefing.status if briefing else ("pending" if ring_at else None),
            "audio_url": audio_url(request, briefing) if briefing else None,
            "script": briefing.script if briefing else "",
        }
        return Response(NextBriefingSerializer(data).data)


class BriefingViewSet(OwnerScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Briefings of the owner's alarms, newest ring first."""

    queryset = Briefing.objects.select_related("alarm").order_by("-ring_at", "-pk")
    serializer_class = BriefingSerializer
    owner_field = "alarm__owner"
    filterset_fields = ["alarm", "status"]
