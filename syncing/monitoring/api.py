"""/api/v1/sync/status/ (the owner's own health) and /api/v1/sync/freshness/ (staff)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from syncing.monitoring.freshness import freshness_report
from syncing.monitoring.status import owner_status


class OwnerStatusView(APIView):
    """The requesting owner's items in words: failing since when and why, paused."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        status = owner_status(request.user)
        lines = [
            {"level": line.level, "text": line.text, "kind": line.kind, "item_id": line.item_id}
            for group in status["kinds"]
            for line in group["lines"]
        ] + [{"level": line.level, "text": line.text} for line in status["extra"]]
        kinds = [{k: g[k] for k in ("kind", "label", "total", "ok")} for g in status["kinds"]]
        return Response({"all_ok": status["all_ok"], "kinds": kinds, "lines": lines})


class FreshnessView(APIView):
    """Freshness per kind and tier: on-time rate (%) and the stalest item's age (s)."""

    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        rows = [
            {
                "kind": f.kind,
                "tier": f.tier,
                "items": f.items,
                "unit": f.unit,  # what items and on_time count: "items", or "rings" (alarms)
                "on_time": f.on_time,
                "on_time_rate": f.on_time_rate,
                "stalest_age_seconds": f.stalest_age.total_seconds() if f.stalest_age else None,
                "paused": f.paused,
                "failing": f.failing,
            }
            for f in freshness_report(kind=request.query_params.get("kind") or None)
        ]
        return Response(rows)
