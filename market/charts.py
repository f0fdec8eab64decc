"""A small price chart as inline SVG, drawn on the server (no script, no CDN)."""

from __future__ import annotations

from decimal import Decimal

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe


def sparkline_svg(values: list[Decimal], *, width: int = 160, height: int = 40) -> SafeString:
    """A polyline of ``values`` scaled to the box; an empty string for fewer than 2 values."""
    if len(values) < 2:
        return mark_safe("")  # noqa: S308 - a constant
    low, high = min(values), max(values)
    span = (high - low) or Decimal(1)
    pad = 2
    step = (width - 2 * pad) / (len(values) - 1)
    points = " ".join(
        f"{pad + i * step:.1f},{pad + float((high - v) / span) * (height - 2 * pad):.1f}"
        for i, v in enumerate(values)
    )
    trend = "#1f8f4e" if values[-1] >= values[0] else "#c53030"
    return format_html(
        '<svg class="sparkline" width="{}" height="{}" viewBox="0 0 {} {}" role="img" '
        'aria-label="price from {} to {}"><polyline fill="none" stroke="{}" '
        'stroke-width="1.5" points="{}"/></svg>',
        width,
        height,
        width,
        height,
        values[0],
        values[-1],
        trend,
        points,
    )
