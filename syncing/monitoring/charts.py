"""Small server-rendered SVG charts (no JavaScript, no CDN): lines and stacked bars.

Every drawn value is an element with a ``data-value`` (and a <title> for the tooltip), so
a browser test can see the points and people can hover them.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 22
OUTCOME_COLORS = {
    "ok": "#2e7d32",
    "not_modified": "#81c784",
    "skipped": "#9e9e9e",
    "failed": "#c62828",
}


def _scale(maximum: float) -> float:
    return maximum if maximum > 0 else 1.0


def _frame(labels: Sequence[str], top_value: float, unit: str, title: str) -> list[str]:
    plot_bottom = HEIGHT - BOTTOM
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{plot_bottom}" stroke="#999"/>',
        f'<line x1="{LEFT}" y1="{plot_bottom}" x2="{WIDTH - RIGHT}" y2="{plot_bottom}" '
        'stroke="#999"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" font-size="10">'
        f"{escape(_fmt(top_value))}{escape(unit)}</text>",
        f'<text x="{LEFT - 4}" y="{plot_bottom}" text-anchor="end" font-size="10">0</text>',
    ]
    if labels:
        parts.append(f'<text x="{LEFT}" y="{HEIGHT - 6}" font-size="10">{escape(labels[0])}</text>')
        parts.append(
            f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 6}" font-size="10" text-anchor="end">'
            f"{escape(labels[-1])}</text>"
        )
    return parts


def _fmt(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], str]],
    *,
    unit: str = "",
    title: str = "",
) -> SafeString:
    """Lines of (name, values, colour) over ``labels``; None values are gaps."""
    values = [v for _, vs, _ in series for v in vs if v is not None]
    top = _scale(max(values, default=0) * 1.1)
    n = max(len(labels), 1)
    step = (WIDTH - LEFT - RIGHT) / max(n - 1, 1)
    height = HEIGHT - TOP - BOTTOM
    parts = _frame(labels, top, unit, title)
    for name, vs, color in series:
        points = []
        for i, v in enumerate(vs):
            if v is None:
                continue
            x, y = LEFT + i * step, TOP + height * (1 - v / top)
            points.append((x, y, v, labels[i] if i < len(labels) else ""))
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            parts.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{path}"/>'
            )
        for x, y, v, label in points:
            parts.append(
                f'<circle class="point" data-series="{escape(name)}" data-value="{v:.1f}" '
                f'cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"><title>{escape(name)} '
                f"{escape(label)}: {_fmt(v)}{escape(unit)}</title></circle>"
            )
    parts.append(_legend([(name, color) for name, _, color in series]))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped


def stacked_bars(
    labels: Sequence[str],
    stacks: Sequence[tuple[str, Sequence[int], str]],
    *,
    title: str = "",
) -> SafeString:
    """Bars per label, stacked from the (name, values, colour) list."""
    n = max(len(labels), 1)
    totals = [sum(vs[i] for _, vs, _ in stacks) for i in range(len(labels))]
    top = _scale(max(totals, default=0) * 1.1)
    slot = (WIDTH - LEFT - RIGHT) / n
    bar = max(1.0, slot * 0.8)
    height = HEIGHT - TOP - BOTTOM
    parts = _frame(labels, top, "", title)
    for i, label in enumerate(labels):
        base = HEIGHT - BOTTOM
        for name, vs, color in stacks:
            v = vs[i]
            if not v:
                continue
            h = height * v / top
            base -= h
            parts.append(
                f'<rect class="bar" data-series="{escape(name)}" data-value="{v}" '
                f'x="{LEFT + i * slot + (slot - bar) / 2:.1f}" y="{base:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{escape(label)} {escape(name)}: {v}'
                "</title></rect>"
            )
    parts.append(_legend([(name, color) for name, _, color in stacks]))
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped


def _legend(entries: Sequence[tuple[str, str]]) -> str:
    out, x = [], LEFT + 6
    for name, color in entries:
        out.append(f'<rect x="{x}" y="{TOP}" width="8" height="8" fill="{color}"/>')
        out.append(f'<text x="{x + 11}" y="{TOP + 8}" font-size="10">{escape(name)}</text>')
        x += 16 + 6 * len(name)
    return "".join(out)
