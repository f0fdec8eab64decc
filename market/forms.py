from __future__ import annotations

from django import forms

from market.models import Direction, Region, Watch

SKU_MAX_LENGTH = 64  # Product.sku
SKU_CHARACTERS = "A SKU has letters, digits, dots, dashes and underscores only"


def sku_problem(sku: str) -> str | None:
    """What is wrong with a SKU, in words (None when nothing is): its length, the
    characters it may not hold (named), its first character."""
    if len(sku) > SKU_MAX_LENGTH:
        return f"A SKU has at most {SKU_MAX_LENGTH} characters; this one has {len(sku)}."
    bad = sorted({c for c in sku if not (c.isascii() and (c.isalnum() or c in "._-"))})
    if bad:
        shown = ", ".join("a space" if c.isspace() else f"“{c}”" for c in bad)
        return f"{SKU_CHARACTERS}, not {shown}."
    if not sku[:1].isalnum():
        return "A SKU starts with a letter or a digit."
    return None


class AddProductForm(forms.Form):
    # No max_length: the browser would cut a longer paste without a word; we say why.
    sku = forms.CharField(
        label="SKU",
        help_text="The style code on the box or label, e.g. DD1391-100 (up to 64 letters, "
        "digits, dots or dashes).",
        widget=forms.TextInput(attrs={"placeholder": "DD1391-100", "autocapitalize": "characters"}),
    )

    def clean_sku(self) -> str:
        sku = self.cleaned_data["sku"].strip()
        problem = sku_problem(sku)
        if problem:
            raise forms.ValidationError(problem, code="invalid")
        return sku


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
