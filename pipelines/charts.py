"""Inline SVG charts, drawn in Python: no JavaScript, no network, nothing to load.

Each function returns one `<svg>` element as a string. Every piece of text that reaches the
markup goes through `esc()` (labels may come from API data: asset types, model ids, errors), and
numbers are formatted here, so a chart can never carry markup it did not write itself.
Hovering a bar shows its exact figure (an SVG `<title>`, which browsers render as a tooltip).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Colour-blind-friendly palette (Okabe-Ito, then Tableau); the last grey is for "other".
PALETTE: tuple[str, ...] = (
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#7f3c8d",
    "#4e79a7", "#59a14f",
)  # fmt: skip
GREY = "#9aa3ad"
OUTCOME_COLORS = {"success": "#2e9e5b", "failed": "#d1495b", "running": "#e8a33d"}
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'


def esc(value: object) -> str:
    """Text for HTML/SVG content and attributes (quotes escaped too)."""
    return html.escape(str(value), quote=True)


def fmt_int(n: float) -> str:
    return f"{round(n):,}"


def fmt_compact(n: float) -> str:
    """Axis labels: 950, 1.2k, 34k, 1.5M."""
    a = abs(n)
    if a >= 1_000_000:
        return f"{n / 1_000_000:.1f}M".replace(".0M", "M")
    if a >= 10_000:
        return f"{n / 1000:.0f}k"
    if a >= 1000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    if a and a < 10 and n != int(n):
        return f"{n:.1f}"
    return f"{n:.0f}"


def nice_ticks(top: float, count: int = 4, integer: bool = True) -> list[float]:
    """0 and round steps up to at least `top` (1, 2, 2.5, 5 x 10^k; whole steps for counts)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    if integer:
        step = max(1.0, math.ceil(step))
    n = math.ceil(top / step - 1e-9)
    return [i * step for i in range(n + 1)]


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    values: tuple[float, ...]


def _open(width: int, height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{esc(label)}" {FONT} font-size="12">'
    )


def _y_axis(ticks: list[float], x0: int, x1: int, y: float, scale: float) -> list[str]:
    out = []
    for t in ticks:
        ty = y - t * scale
        out.append(
            f'<line x1="{x0}" x2="{x1}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#e3e7ec"/>'
            f'<text x="{x0 - 6}" y="{ty + 4:.1f}" text-anchor="end" fill="#5b6570">'
            f"{esc(fmt_compact(t))}</text>"
        )
    return out


def _x_labels(labels: Sequence[str], x0: float, slot: float, y: float, max_labels: int) -> str:
    every = max(1, math.ceil(len(labels) / max_labels))
    parts = []
    for i, text in enumerate(labels):
        if i % every == 0:
            cx = x0 + (i + 0.5) * slot
            parts.append(
                f'<text x="{cx:.1f}" y="{y}" text-anchor="middle" fill="#5b6570">{esc(text)}</text>'
            )
    return "".join(parts)


def legend(series: Sequence[tuple[str, str]]) -> str:
    """An HTML legend (wraps naturally), for the charts with several colours."""
    items = "".join(
        f'<span class="key"><i style="background:{esc(color)}"></i>{esc(name)}</span>'
        for name, color in series
    )
    return f'<div class="legend">{items}</div>'


def stacked_bars(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    width: int = 1100,
    height: int = 300,
    title: str = "",
) -> str:
    """Vertical bars, one per label, stacked by series (bottom = first series)."""
    left, right, top, bottom = 48, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    ticks = nice_ticks(max(totals, default=0))
    scale = plot_h / ticks[-1]
    slot = plot_w / max(len(labels), 1)
    bar_w = max(min(slot * 0.8, 48.0), 1.0)
    base_y = top + plot_h
    out = [_open(width, height, title), *_y_axis(ticks, left, width - right, base_y, scale)]
    for i, label in enumerate(labels):
        x = left + i * slot + (slot - bar_w) / 2
        y = float(base_y)
        for s in series:
            v = s.values[i]
            if v <= 0:
                continue
            h = v * scale
            y -= h
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{esc(s.color)}"><title>{esc(label)} · {esc(s.name)}: '
                f"{fmt_int(v)} (total {fmt_int(totals[i])})</title></rect>"
            )
    out.append(_x_labels(labels, left, slot, height - 8, max_labels=12))
    out.append("</svg>")
    return "".join(out)


def columns(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    colors: Sequence[str] | None = None,
    tips: Sequence[str] | None = None,
    width: int = 540,
    height: int = 240,
    title: str = "",
    show_values: bool = True,
    max_labels: int = 12,
    min_height: float = 0.0,
) -> str:
    """Vertical bars with optional per-bar colours and tooltips; values on top when few bars.

    `min_height` keeps a zero bar visible as a stub (a failed run that fetched nothing still
    shows its colour)."""
    left, right, top, bottom = 48, 12, 18, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks = nice_ticks(max(values, default=0))
    scale = plot_h / ticks[-1]
    slot = plot_w / max(len(labels), 1)
    bar_w = max(min(slot * 0.75, 64), 1.0)
    base_y = top + plot_h
    out = [_open(width, height, title), *_y_axis(ticks, left, width - right, base_y, scale)]
    few = show_values and len(labels) <= 16
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        x = left + i * slot + (slot - bar_w) / 2
        h = max(v * scale, min_height)
        color = colors[i] if colors else PALETTE[0]
        tip = tips[i] if tips else f"{label}: {fmt_int(v)}"
        out.append(
            f'<rect x="{x:.1f}" y="{base_y - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="{esc(color)}" rx="2"><title>{esc(tip)}</title></rect>'
        )
        if few:
            out.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{base_y - h - 4:.1f}" text-anchor="middle" '
                f'fill="#2b333b" font-size="11">{esc(fmt_compact(v))}</text>'
            )
    out.append(_x_labels(labels, left, slot, height - 8, max_labels=max_labels))
    out.append("</svg>")
    return "".join(out)


def hbars(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    inner: Sequence[float] | None = None,
    notes: Sequence[str] | None = None,
    color: str = PALETTE[0],
    inner_color: str = "#003f6b",
    width: int = 540,
    label_width: int = 170,
    title: str = "",
) -> str:
    """Horizontal bars (largest first is the caller's order); `inner` draws a darker part of
    each bar (e.g. the assets of a stage that were used further), `notes` a text after it."""
    row_h, top = 28, 6
    height = top * 2 + row_h * max(len(labels), 1)
    note_w = 150 if notes else 60
    plot_w = width - label_width - note_w
    top_v = max(values, default=0) or 1
    out = [_open(width, height, title)]
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = top + i * row_h
        w = plot_w * v / top_v
        shown = label if len(label) <= 26 else label[:25] + "…"
        out.append(
            f'<text x="{label_width - 8}" y="{y + 18}" text-anchor="end" fill="#2b333b">'
            f"<title>{esc(label)}</title>{esc(shown)}</text>"
            f'<rect x="{label_width}" y="{y + 5}" width="{w:.1f}" height="{row_h - 10}" '
            f'fill="{esc(color)}" rx="2"><title>{esc(label)}: {fmt_int(v)}</title></rect>'
        )
        if inner is not None and v > 0:
            iw = plot_w * inner[i] / top_v
            out.append(
                f'<rect x="{label_width}" y="{y + 5}" width="{iw:.1f}" height="{row_h - 10}" '
                f'fill="{esc(inner_color)}" rx="2"><title>{esc(label)}: {fmt_int(inner[i])} of '
                f"{fmt_int(v)}</title></rect>"
            )
        note = notes[i] if notes else fmt_int(v)
        out.append(
            f'<text x="{label_width + w + 6:.1f}" y="{y + 18}" fill="#2b333b">{esc(note)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def line(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    color: str = PALETTE[5],
    unit: str = "",
    width: int = 540,
    height: int = 220,
    title: str = "",
    max_labels: int = 8,
) -> str:
    """A line with dots over evenly spaced labels; None values break nothing (no dot)."""
    left, right, top, bottom = 48, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    present = [v for v in values if v is not None]
    ticks = nice_ticks(max(present, default=0), integer=False)
    scale = plot_h / ticks[-1]
    slot = plot_w / max(len(labels), 1)
    base_y = top + plot_h
    out = [_open(width, height, title), *_y_axis(ticks, left, width - right, base_y, scale)]
    points = [
        (left + (i + 0.5) * slot, base_y - v * scale, label, v)
        for i, (label, v) in enumerate(zip(labels, values, strict=True))
        if v is not None
    ]
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{esc(color)}" stroke-width="2"/>'
        )
    for x, y, label, v in points:
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{esc(color)}">'
            f"<title>{esc(label)}: {esc(fmt_compact(v))}{esc(unit)}</title></circle>"
        )
    out.append(_x_labels(labels, left, slot, height - 8, max_labels=max_labels))
    out.append("</svg>")
    return "".join(out)
