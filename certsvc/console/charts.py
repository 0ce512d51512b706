"""Charts drawn on the server as inline SVG: no script, no library, nothing for the CSP to
allow. One kind is enough for the dashboard: stacked vertical bars with a legend, each bar
segment carrying its value in a ``<title>`` (shown on hover)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = (
    "#b71c1c",
    "#1565c0",
    "#2e7d32",
    "#ef6c00",
    "#6a1b9a",
    "#00838f",
    "#5d4037",
    "#9e9d24",
    "#ad1457",
    "#455a64",
)
WIDTH = 640
HEIGHT = 260
LEFT = 48
BOTTOM = 44
TOP = 12
LEGEND_ROW = 18


@dataclass(frozen=True)
class StackedBars:
    title: str
    categories: Sequence[str]  # one bar each, left to right
    series: Mapping[str, Sequence[float]]  # one stacked segment per series in each bar
    unit: str = ""

    def svg(self) -> Markup:
        names = list(self.series)
        legend_rows = (len(names) + 3) // 4
        height = HEIGHT + legend_rows * LEGEND_ROW
        plot_height = HEIGHT - TOP - BOTTOM
        totals = [sum(self.series[name][i] for name in names) for i in range(len(self.categories))]
        top = nice_ceiling(max(totals, default=0))
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'viewBox="0 0 {WIDTH} {height}" width="100%" aria-label="{escape(self.title)}">',
            f"<title>{escape(self.title)}</title>",
        ]
        for tick in range(5):  # grid lines and the value axis
            value = top * tick / 4
            y = TOP + plot_height - plot_height * tick / 4
            parts.append(
                f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - 8}" y2="{y:.1f}" '
                'stroke="#dadce0" stroke-width="1"/>'
                f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
                f'fill="#5f6368">{escape(_number(value))}</text>'
            )
        count = max(1, len(self.categories))
        slot = (WIDTH - LEFT - 8) / count
        bar = max(2.0, min(40.0, slot * 0.7))
        label_every = max(1, math.ceil(count / 12))
        for i, category in enumerate(self.categories):
            x = LEFT + slot * i + (slot - bar) / 2
            base = float(TOP + plot_height)
            for colour, name in zip(_colours(len(names)), names, strict=True):
                value = self.series[name][i]
                if value <= 0 or top <= 0:
                    continue
                h = plot_height * value / top
                base -= h
                tip = f"{category} · {name}: {_number(value)}{self.unit}"
                parts.append(
                    f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                    f'fill="{colour}"><title>{escape(tip)}</title></rect>'
                )
            if i % label_every == 0:
                parts.append(
                    f'<text x="{x + bar / 2:.1f}" y="{TOP + plot_height + 16}" font-size="11" '
                    f'text-anchor="middle" fill="#1d1d1f">{escape(category)}</text>'
                )
        for index, (colour, name) in enumerate(zip(_colours(len(names)), names, strict=True)):
            row, column = divmod(index, 4)
            lx = LEFT + column * 150
            ly = HEIGHT - 8 + row * LEGEND_ROW
            parts.append(
                f'<rect x="{lx}" y="{ly - 10}" width="10" height="10" fill="{colour}"/>'
                f'<text x="{lx + 14}" y="{ly}" font-size="12" fill="#1d1d1f">{escape(name)}</text>'
            )
        if not self.categories:
            parts.append(
                f'<text x="{WIDTH / 2}" y="{TOP + plot_height / 2}" text-anchor="middle" '
                'font-size="13" fill="#5f6368">—</text>'
            )
        parts.append("</svg>")
        return Markup("".join(parts))  # noqa: S704  # every piece of text above is escaped


def nice_ceiling(value: float) -> float:
    """A round number at or above ``value`` for the top of the axis (1, 2, 5 × 10ⁿ)."""
    if value <= 0:
        return 1.0
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    while magnitude > value:
        magnitude /= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _number(value: float) -> str:
    """An axis value as short as it is exact: 0.25 stays 0.25 (not 0.2), 7.5 stays 7.5."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _colours(count: int) -> list[str]:
    return [PALETTE[i % len(PALETTE)] for i in range(count)]
