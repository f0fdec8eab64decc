"""Owner pages of the engine: home, dashboard shell, API tokens; /healthz."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from knox.models import AuthToken

from syncing import selectors
from syncing.health import health_response


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "home.html", {"signup_enabled": settings.SIGNUP_ENABLED})


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    context = {
        "health": selectors.owner_health(request.user),
        "recent_attempts": selectors.recent_attempts(request.user, 15),
        "sections": selectors.dashboard_sections(request),
    }
    return render(request, "dashboard.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    new_key = None
    if request.method == "POST":
        if "revoke" in request.POST:
            AuthToken.objects.filter(user=request.user, pk=request.POST["revoke"]).delete()
        else:
            _, new_key = AuthToken.objects.create(user=request.user)
    tokens = AuthToken.objects.filter(user=request.user).order_by("-created")
    return render(request, "account/tokens.html", {"tokens": tokens, "new_key": new_key})


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return health_response(request)
