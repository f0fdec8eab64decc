"""/metrics, the staff sync dashboard (in the admin) and the owner's status page."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from syncing.kinds import all_kinds
from syncing.monitoring.dashboard import dashboard_context
from syncing.monitoring.prometheus import metrics_response
from syncing.monitoring.status import owner_status as owner_status_words


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    return metrics_response(request)


@staff_member_required
@never_cache
def sync_dashboard(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    context = {
        **admin.site.each_context(request),
        **dashboard_context(kind=kind),
        "title": "Sync dashboard",
        "kinds": [k.name for k in all_kinds()],
    }
    return render(request, "syncing/monitoring/dashboard.html", context)


@login_required
def owner_status(request: HttpRequest) -> HttpResponse:
    return render(request, "syncing/status.html", {"status": owner_status_words(request.user)})
