"""The owner's alarm form: time, zone, repeat days or a date, voice, lead and sections."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache

from django import forms

from alarms.models import MAX_LEAD_MINUTES, Alarm
from alarms.services import clock
from alarms.services.schedule import Rule, next_ring
from syncing.validation import validate_date_in_range, validate_single_line

WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]
OPTIONAL_SECTIONS = [
    ("calendar", "Check-ins and check-outs"),
    ("market", "Watched products that moved"),
    ("note", "My note"),
]


@lru_cache(maxsize=1)
def zone_choices() -> list[tuple[str, str]]:
    return [
        (name, name)
        for name in sorted(zoneinfo.available_timezones())
        if "/" in name and not name.startswith(("Etc/", "SystemV/"))
    ] + [("UTC", "UTC")]


class AlarmForm(forms.ModelForm):
    time = forms.TimeField(
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        input_formats=["%H:%M", "%H:%M:%S"],
    )
    timezone = forms.ChoiceField(
        choices=zone_choices,
        label="Time zone",
        help_text="The alarm rings at this time in this zone, also across daylight saving.",
    )
    days = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Repeats on",
        help_text="Leave empty for a one-off alarm on the date below.",
    )
    date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    lead_minutes = forms.IntegerField(
        min_value=1,
        max_value=MAX_LEAD_MINUTES,
        initial=58,
        label="Prepare the briefing (minutes before the ring)",
        help_text="Its news and prices are this fresh when the alarm rings.",
    )
    sections = forms.TypedMultipleChoiceField(
        choices=OPTIONAL_SECTIONS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Briefing sections",
    )
    note = forms.CharField(
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="My note",
        help_text="Read out at the end of the briefing.",
    )

    class Meta:
        model = Alarm
        fields = ["label", "time", "timezone", "days", "date", "voice", "lead_minutes", "active"]
        labels = {"active": "On", "date": "Date (one-off)"}
        help_texts = {
            "label": "Your name for it, e.g. “Weekday wake-up”.",
            "voice": "The speech voice by language, e.g. en, en-gb, fr. Empty: the default.",
            "active": "Off: it does not ring and no briefing is prepared.",
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["date"].validators.append(validate_date_in_range)  # 9999-12-31 overflows
        self.fields["label"].validators.append(validate_single_line)
        alarm = self.instance
        if alarm.pk:
            self.initial["sections"] = [n for n, _ in OPTIONAL_SECTIONS if alarm.section_enabled(n)]
            self.initial["note"] = alarm.note
        else:
            self.initial.setdefault("sections", [n for n, _ in OPTIONAL_SECTIONS])
            self.initial.setdefault("timezone", "UTC")

    def clean(self) -> dict:
        data = super().clean()
        days, day = data.get("days") or [], data.get("date")
        if days and day:
            self.add_error("date", "A repeating alarm has no date: clear it or the days.")
        elif not days and not day:
            self.add_error("date", "A one-off alarm needs a date; or tick the days it repeats.")
        elif not days and data.get("active") and data.get("time") and data.get("timezone"):
            rule = Rule(time=data["time"], timezone=data["timezone"], days=[], date=day)
            if next_ring(rule, clock.now()) is None:
                self.add_error("date", "That date and time have already passed.")
        return data

    def alarm_fields(self) -> dict:
        """The cleaned data as keyword arguments for the alarm services."""
        data = self.cleaned_data
        enabled = set(data.get("sections") or [])
        options = dict(self.instance.options or {})
        options["sections"] = {name: name in enabled for name, _ in OPTIONAL_SECTIONS}
        options["note"] = data.get("note", "")
        return {
            "label": data["label"],
            "time": data["time"],
            "timezone": data["timezone"],
            "days": sorted(data.get("days") or []),
            "date": data.get("date"),
            "voice": data.get("voice", ""),
            "lead_minutes": data["lead_minutes"],
            "active": data.get("active", False),
            "options": options,
        }
