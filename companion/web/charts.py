"""Charts drawn by the server as inline SVG (no JavaScript, no CDN). Each chart has a title and a
description for screen readers and scales to the width of a phone; the pages put the same figures in a
table beside it."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

_W = 560  # viewBox width; the SVG itself is width 100%
_BAR = 22
_GAP = 8
_PALETTE = ("#2f6f8f", "#c0792a", "#6a8f2f", "#8f2f5e", "#5e5e8f")


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def _svg(title: str, desc: str, height: int, body: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {_W} {height}" width="100%" role="img" '
        f'preserveAspectRatio="xMinYMin meet">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>{body}</svg>"
    )


def bar_chart(
    title: str,
    items: Sequence[tuple[str, float]],
    *,
    unit: str = "",
    maximum: float | None = None,
    color: str = _PALETTE[0],
) -> Markup:
    """Horizontal bars, one per (label, value), labels on the left, values at the bar's end."""
    if not items:
        return _svg(title, "no data", 30, '<text x="0" y="20" class="chart-empty">No data yet</text>')
    top = maximum if maximum is not None else max(v for _, v in items)
    top = top or 1.0
    label_w, value_w = 170, 70
    span = _W - label_w - value_w
    parts: list[str] = []
    for i, (label, value) in enumerate(items):
        y = i * (_BAR + _GAP)
        width = max(0.0, min(1.0, value / top)) * span
        shown = label if len(label) <= 26 else label[:25] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + _BAR * 0.7:.1f}" text-anchor="end" font-size="13">'
            f"{escape(shown)}</text>"
            f'<rect x="{label_w}" y="{y}" width="{width:.1f}" height="{_BAR}" fill="{color}" rx="2">'
            f"<title>{escape(label)}: {_fmt(value)}{escape(unit)}</title></rect>"
            f'<text x="{label_w + width + 5:.1f}" y="{y + _BAR * 0.7:.1f}" font-size="13">'
            f"{_fmt(value)}{escape(unit)}</text>"
        )
    height = len(items) * (_BAR + _GAP)
    desc = "; ".join(f"{label}: {_fmt(value)}{unit}" for label, value in items)
    return _svg(title, desc, height, "".join(parts))


def column_chart(title: str, items: Sequence[tuple[str, float]], *, unit: str = "") -> Markup:
    """Vertical columns (a histogram or a distribution), labels under each column."""
    if not items:
        return _svg(title, "no data", 30, '<text x="0" y="20" class="chart-empty">No data yet</text>')
    top = max(v for _, v in items) or 1.0
    plot_h, base = 160, 180
    width = (_W - 20) / len(items)
    parts: list[str] = [f'<line x1="10" y1="{base}" x2="{_W - 10}" y2="{base}" stroke="#888"/>']
    for i, (label, value) in enumerate(items):
        h = value / top * plot_h
        x = 10 + i * width
        parts.append(
            f'<rect x="{x + 3:.1f}" y="{base - h:.1f}" width="{max(1.0, width - 6):.1f}" height="{h:.1f}" '
            f'fill="{_PALETTE[0]}"><title>{escape(label)}: {_fmt(value)}{escape(unit)}</title></rect>'
            f'<text x="{x + width / 2:.1f}" y="{base - h - 4:.1f}" text-anchor="middle" font-size="12">'
            f"{_fmt(value)}</text>"
            f'<text x="{x + width / 2:.1f}" y="{base + 16}" text-anchor="middle" font-size="12">'
            f"{escape(label)}</text>"
        )
    desc = "; ".join(f"{label}: {_fmt(value)}{unit}" for label, value in items)
    return _svg(title, desc, base + 24, "".join(parts))


def line_chart(title: str, points: Sequence[tuple[str, float]], *, maximum: float | None = None) -> Markup:
    """A trend: one point per (label, value), in order, joined by a line; the title is shown above it
    (trend charts sit side by side with no heading of their own)."""
    heading = f'<text x="0" y="16" font-size="14" font-weight="600">{escape(title)}</text>'
    if not points:
        empty = '<text x="0" y="40" class="chart-empty">No data yet</text>'
        return _svg(title, "no data", 50, heading + empty)
    top = maximum if maximum is not None else (max(v for _, v in points) or 1.0)
    plot_h, base, left, right = 130, 180, 70, 70  # side margins keep the end labels inside
    step = (_W - left - right) / max(1, len(points) - 1)
    coords = [
        (left + i * step if len(points) > 1 else _W / 2, base - min(1.0, v / top) * plot_h)
        for i, (_, v) in enumerate(points)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    parts = [
        heading,
        f'<line x1="10" y1="{base}" x2="{_W - 10}" y2="{base}" stroke="#888"/>',
        f'<polyline points="{path}" fill="none" stroke="{_PALETTE[0]}" stroke-width="2"/>',
    ]
    for (label, value), (x, y) in zip(points, coords, strict=True):
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{_PALETTE[0]}">'
            f"<title>{escape(label)}: {_fmt(value)}</title></circle>"
            f'<text x="{x:.1f}" y="{y - 9:.1f}" text-anchor="middle" font-size="13">{_fmt(value)}</text>'
            f'<text x="{x:.1f}" y="{base + 18}" text-anchor="middle" font-size="13">{escape(label)}</text>'
        )
    desc = "; ".join(f"{label}: {_fmt(value)}" for label, value in points)
    return _svg(title, desc, base + 26, "".join(parts))
