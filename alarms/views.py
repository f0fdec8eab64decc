"""Owner pages (alarm list, form) and the signed audio endpoint."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from alarms import selectors
from alarms.forms import AlarmForm
from alarms.kinds import ALARM_KIND
from alarms.models import Briefing
from alarms.services import alarms as alarm_services
from alarms.services import audio_links, clock, storage
from syncing.services.resume import item_resume


def _rows(alarms: list) -> list[dict]:
    latest = selectors.latest_playable_by_alarm(alarms)
    rows = []
    for alarm in alarms:
        briefing = latest.get(alarm.pk)
        rows.append(
            {
                "alarm": alarm,
                "briefing": briefing,
                "audio_url": audio_links.audio_path(briefing) if briefing else None,
            }
        )
    return rows


@login_required
def index(request: HttpRequest) -> HttpResponse:
    return render(
        request, "alarms/index.html", {"rows": _rows(list(selectors.owner_alarms(request.user)))}
    )


@login_required
@require_GET
def alarm_row(request: HttpRequest, pk: int) -> HttpResponse:
    """One alarm's row: htmx polls it while its briefing is being prepared."""
    alarm = get_object_or_404(selectors.owner_alarms(request.user), pk=pk)
    return render(request, "alarms/_alarm_row.html", {"row": _rows([alarm])[0]})


@login_required
@require_POST
def alarm_resume(request: HttpRequest, pk: int) -> HttpResponse:
    alarm = get_object_or_404(selectors.owner_alarms(request.user), pk=pk)
    if item_resume(ALARM_KIND, alarm.pk, owner=request.user):
        messages.success(request, f"“{alarm}” resumed; its briefing is prepared again.")
    return redirect("alarms:index")


@login_required
@require_http_methods(["GET", "POST"])
def alarm_create(request: HttpRequest) -> HttpResponse:
    form = AlarmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            alarm_services.alarm_create(request.user, **form.alarm_fields())
        except alarm_services.AlarmLimitReached as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Alarm saved.")
            return redirect("alarms:index")
    return render(request, "alarms/form.html", {"form": form, "alarm": None})


@login_required
@require_http_methods(["GET", "POST"])
def alarm_edit(request: HttpRequest, pk: int) -> HttpResponse:
    alarm = get_object_or_404(selectors.owner_alarms(request.user), pk=pk)
    form = AlarmForm(request.POST or None, instance=alarm)
    if request.method == "POST" and form.is_valid():
        alarm_services.alarm_update(alarm, **form.alarm_fields())
        messages.success(request, "Alarm saved.")
        return redirect("alarms:index")
    return render(request, "alarms/form.html", {"form": form, "alarm": alarm})


@login_required
@require_POST
def alarm_delete(request: HttpRequest, pk: int) -> HttpResponse:
    alarm = get_object_or_404(selectors.owner_alarms(request.user), pk=pk)
    alarm.delete()
    messages.success(request, "Alarm deleted.")
    return redirect("alarms:index")


class AudioView(APIView):
    """A briefing's audio, for a valid, unexpired signed token.

    The token is bound to the owner: a request authenticated (session or API token) as
    anyone else gets 404, like an unknown or tampered token; an expired token gets 403.
    Unauthenticated requests are served on the token alone (an audio player may not send
    credentials): the token is unguessable and short-lived.
    """

    schema = None  # a file download for audio players, not part of the JSON API

    permission_classes = [AllowAny]

    def get(self, request, token: str) -> HttpResponse:
        try:
            link = audio_links.unsign(token)
        except audio_links.ExpiredLink:
            return HttpResponse(
                "This audio link has expired.", status=403, content_type="text/plain"
            )
        except audio_links.BadLink:
            raise Http404("No such audio.")
        if request.user.is_authenticated and request.user.pk != link.owner_id:
            raise Http404("No such audio.")
        # The link is per briefing (and owner); the file is the clip it shares with others.
        briefing = (
            Briefing.objects.filter(
                pk=link.briefing_id, alarm__owner_id=link.owner_id, clip__isnull=False
            )
            .select_related("clip")
            .first()
        )
        if briefing is None or (briefing.expires_at and briefing.expires_at <= clock.now()):
            raise Http404("No such audio.")
        try:
            handle = briefing.clip.file.open("rb")
        except (FileNotFoundError, OSError):
            raise Http404("No such audio.")
        name = briefing.clip.file.name
        response = FileResponse(handle, content_type=storage.content_type_for(name))
        response["Cache-Control"] = "private, max-age=300"
        response["Content-Disposition"] = (
            f'inline; filename="briefing-{briefing.pk}.{name.rsplit(".", 1)[-1]}"'
        )
        return response
