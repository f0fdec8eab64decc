"""Owner pages: the watchlist with prices and charts, adding products, alerts."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from market import selectors
from market.forms import AddProductForm, WatchAlertForm
from market.models import Watch, WatchAlert
from market.services.products import AllowanceExceeded, sync_request, watch_add, watch_remove
from syncing.plans import allowance_for


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
    watch = get_object_or_404(Watch.objects.select_related("product"), pk=pk, owner=request.user)
    outcome = sync_request(request.user, watch.product)
    text = {
        200: "Prices are fresh (synced in the last 5 minutes).",
        202: "Sync queued; prices update in a moment.",
        429: f"Too many manual syncs; try again in {outcome.retry_after} s.",
    }[outcome.status]
    (messages.success if outcome.status != 429 else messages.warning)(request, text)
    return redirect("market:index")


@login_required
@require_POST
def alerts_seen(request: HttpRequest) -> HttpResponse:
    WatchAlert.objects.filter(watch__owner=request.user, seen=False).update(seen=True)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
        target = "market:index"
    return redirect(target)
