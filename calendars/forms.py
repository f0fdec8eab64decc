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

    class Meta:
        model = Listing
        fields = ["name", "timezone"]
        widgets = {"timezone": forms.TextInput(attrs={"list": "timezones"})}

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

    def changed_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}
