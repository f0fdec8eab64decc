"""/metrics, the staff sync dashboard (in the admin) and the owner's status page."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from syncing.kinds import all_kinds
from syncing.monitoring.dashboard import dashboard_context
from syncing.monitoring.prometheus import metrics_response
from syncing.monitoring.status import owner_status as owner_status_words
from syncing.services.resume import item_resume


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


@login_required
@require_POST
def owner_status_resume(request: HttpRequest) -> HttpResponse:
    """Resume one paused item the owner sees (resuming is its own button, here too)."""
    kind = next((k for k in all_kinds() if k.name == request.POST.get("kind")), None)
    pk = request.POST.get("item", "")
    if kind is None or not pk.isdigit():
        return redirect("owner-status")
    item = kind.model_class.objects.filter(pk=int(pk), **{kind.seen_by_path: request.user}).first()
    if item is not None and item_resume(kind.name, item.pk):
        name = getattr(item, "display_name", None) or str(item)
        messages.success(request, f"“{name}” resumed; syncing it now.")
    return redirect("owner-status")
