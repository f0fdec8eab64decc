"""Owner pages: the watchlist with prices and charts, adding products, alerts."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from market import selectors
from market.forms import AddProductForm, WatchAlertForm
from market.kinds import PRODUCT_KIND
from market.models import Watch, WatchAlert
from market.services.products import AllowanceExceeded, sync_request, watch_add, watch_remove
from syncing import humane
from syncing.plans import allowance_for
from syncing.services.resume import item_resume


@login_required
def index(request: HttpRequest) -> HttpResponse:
    form = AddProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            watch, created = watch_add(request.user, form.cleaned_data["sku"])
        except AllowanceExceeded as exc:
            form.add_error("sku", str(exc))
        else:
            sku = watch.product.sku
            messages.success(request, f"Watching {sku}." if created else f"Already watching {sku}.")
            return redirect("market:index")
    rows = selectors.watchlist(request.user)
    context = {
        "rows": rows,
        "form": form,
        "alerts": selectors.unseen_alerts(request.user)[:20],
        "allowance": allowance_for(request.user).items,
    }
    return render(request, "market/index.html", context)


@login_required
def watch_edit(request: HttpRequest, pk: int) -> HttpResponse:
    watch = get_object_or_404(Watch.objects.select_related("product"), pk=pk, owner=request.user)
    form = WatchAlertForm(request.POST or None, instance=watch)
    if request.method == "POST" and form.is_valid():
        watch = form.save(commit=False)
        watch.baseline_price = None  # a new alert measures from the next price seen
        watch.crossed = False
        watch.save()
        messages.success(request, f"Alert saved for {watch.product.sku}.")
        return redirect("market:index")
    return render(request, "market/watch_form.html", {"form": form, "watch": watch})


@login_required
@require_POST
def watch_delete(request: HttpRequest, pk: int) -> HttpResponse:
    watch = get_object_or_404(Watch.objects.select_related("product"), pk=pk, owner=request.user)
    watch_remove(request.user, watch.product)
    messages.success(request, f"Stopped watching {watch.product.sku}.")
    return redirect("market:index")


@login_required
@require_POST
def watch_sync(request: HttpRequest, pk: int) -> HttpResponse:
    """Sync now. htmx swaps the product's row (with a note); a plain POST redirects back.
    A paused product is not resumed by this: Resume is its own button."""
    watch = get_object_or_404(Watch.objects.select_related("product"), pk=pk, owner=request.user)
    if watch.product.paused:
        return _watch_reply(request, watch, "Paused: resume it to fetch prices again.", ok=False)
    outcome = sync_request(request.user, watch.product)
    free_at = timezone.now() + timedelta(seconds=outcome.retry_after)
    text = {
        200: "Prices are fresh (synced in the last 5 minutes).",
        202: "Sync queued; prices update in a moment.",
        429: f"Too many manual syncs; try again {humane.until(free_at)}.",
    }[outcome.status]
    return _watch_reply(request, watch, text, ok=outcome.status != 429)


@login_required
@require_GET
def watch_row(request: HttpRequest, pk: int) -> HttpResponse:
    """One product's row: htmx polls it while its prices are being fetched."""
    return _watch_reply(request, get_object_or_404(Watch, pk=pk, owner=request.user), "")


@login_required
@require_POST
def watch_resume(request: HttpRequest, pk: int) -> HttpResponse:
    watch = get_object_or_404(Watch.objects.select_related("product"), pk=pk, owner=request.user)
    # Products are shared: the watch is the owner's right to resume one.
    if item_resume(PRODUCT_KIND, watch.product_id):
        messages.success(request, f"{watch.product.sku} resumed; fetching its prices now.")
    return redirect("market:index")


def _watch_reply(request: HttpRequest, watch: Watch, note: str, ok: bool = True) -> HttpResponse:
    if request.htmx or request.method == "GET":
        row = next(r for r in selectors.watchlist(request.user) if r.watch.pk == watch.pk)
        return render(request, "market/_watch_row.html", {"row": row, "note": note})
    (messages.success if ok else messages.warning)(request, note)
    return redirect("market:index")


@login_required
@require_POST
def alerts_seen(request: HttpRequest) -> HttpResponse:
    WatchAlert.objects.filter(watch__owner=request.user, seen=False).update(seen=True)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
        target = "market:index"
    return redirect(target)
