"""Owner forms: a listing, a feed."""

from __future__ import annotations

import zoneinfo

from django import forms

from calendars.models import Feed, Listing, Source
from syncing.validation import validate_single_line


class ListingForm(forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # One line: the name goes into the export feed's X-WR-CALNAME.
        self.fields["name"].validators.append(validate_single_line)
        for name in ("check_in_time", "check_out_time"):
            self.fields[name].required = False  # left out: the listing's (or the default)

    class Meta:
        model = Listing
        fields = ["name", "timezone", "check_in_time", "check_out_time"]
        widgets = {
            "timezone": forms.TextInput(attrs={"list": "timezones"}),
            "check_in_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "check_out_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
        labels = {
            "timezone": "Time zone",
            "check_in_time": "Check-in time",
            "check_out_time": "Check-out time",
        }
        help_texts = {
            "name": "Your name for it, e.g. “Lake house”; channels show it as the calendar's name.",
            "timezone": "Where the listing is (e.g. Europe/Lisbon): check-in and check-out are "
            "at these local times, and feed times given without a zone are read in it.",
            "check_in_time": "A timed event holds a night when it overlaps check-in to the "
            "next day's check-out, in the listing's zone.",
        }

    def _clean_time(self, name: str):
        value = self.cleaned_data.get(name)
        if value is None:
            value = getattr(self.instance, name, None) or Listing._meta.get_field(name).default
        return value

    def clean_check_in_time(self):
        return self._clean_time("check_in_time")

    def clean_check_out_time(self):
        return self._clean_time("check_out_time")

    @staticmethod
    def timezone_names() -> list[str]:
        return sorted(zoneinfo.available_timezones())


class FeedForm(forms.ModelForm):
    source = forms.ChoiceField(
        choices=[("", "Guess from the URL"), *Source.choices],
        required=False,
        help_text="The channel this feed comes from.",
    )

    class Meta:
        model = Feed
        fields = ["url", "name", "source", "export_back", "event_kind"]
        labels = {
            "url": "iCal feed URL",
            "export_back": "Include these events in the merged export",
            "event_kind": "Its events are",
        }
        widgets = {
            "url": forms.URLInput(attrs={"placeholder": "https://www.airbnb.com/calendar/ical/…"})
        }
        help_texts = {
            "name": "Optional: your name for it, e.g. “Airbnb main”. Empty: the channel's name.",
            "export_back": "Off for a calendar that only feeds this listing (a cleaning rota): "
            "its events then stay out of what the channels import from us.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kinds = self.fields["event_kind"]
        kinds.choices = [("", "Read from the channel's wording"), *list(kinds.choices)[1:]]
        kinds.help_text = "Set a kind when every event of this calendar is one: cleanings, say."

    def changed_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}
