from __future__ import annotations

from django import forms

from market.models import Direction, Region, Watch


class AddProductForm(forms.Form):
    sku = forms.RegexField(
        regex=r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$",
        max_length=64,
        label="SKU",
        widget=forms.TextInput(attrs={"placeholder": "DD1391-100"}),
        error_messages={"invalid": "Letters, digits, dots and dashes only."},
    )


class WatchAlertForm(forms.ModelForm):
    """An alert on one watched product: a price level or a move in percent."""

    region = forms.ChoiceField(choices=[("", "Product's region"), *Region.choices], required=False)
    direction = forms.ChoiceField(choices=Direction.choices)

    class Meta:
        model = Watch
        fields = ["threshold_price", "threshold_percent", "direction", "region", "size"]

    def clean(self):
        data = super().clean()
        if data.get("threshold_price") is not None and data.get("threshold_percent") is not None:
            raise forms.ValidationError("Set a price or a percentage, not both.")
        return data
