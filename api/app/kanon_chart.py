"""A grouped horizontal bar chart as inline SVG, for counts that may be suppressed ("<10").

The simulation report's :func:`simulations.report.bar_chart` prints every value; on the
console an analyst must not read a small group's exact count, so a suppressed value is drawn
as a hatched stub labelled "<10" — the bar says "few", the number is not there.

>>> svg = group_chart("district", ["东城区", "西城区"], {"before": [12, "<10"], "after": [30, 15]})
>>> svg.startswith("<svg") and svg.count("<rect") == 2 + 4, "&lt;10" in svg, ">12<" in svg
(True, True, True)
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Final

__all__ = ["group_chart"]

_COLORS: Final = ("#9aa5b1", "#c0392b")  # before, after


def group_chart(
    title: str, labels: Sequence[str], series: Mapping[str, Sequence[int | str]], *,
    width: int = 480,
) -> str:  # fmt: skip
    """Bars per label and series; a string value (a suppressed count) is a stub with its text."""
    names = list(series)
    numbers = [v for values in series.values() for v in values if isinstance(v, int)]
    top = max(numbers, default=0) or 1
    bar, gap, left, right = 12, 10, 175, 50
    row = bar * len(names) + gap
    height = 40 + row * len(labels) + 10
    scale = (width - left - right) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="0" y="16" font-weight="bold">{html.escape(title)}</text>',
    ]
    for n, name in enumerate(names):
        x = left + n * 90
        parts.append(f'<rect x="{x}" y="24" width="10" height="10" fill="{_COLORS[n % 2]}"/>')
        parts.append(f'<text x="{x + 14}" y="33" font-size="11">{html.escape(name)}</text>')
    for i, label in enumerate(labels):
        y = 44 + i * row
        parts.append(
            f'<text x="{left - 6}" y="{y + bar}" font-size="12" text-anchor="end">'
            f"{html.escape(label)}</text>"
        )
        for n, name in enumerate(names):
            value = series[name][i]
            by = y + n * bar
            if isinstance(value, int):
                w, text = max(value * scale, 0.5 if value else 0), f"{value:,}"
                fill = _COLORS[n % 2]
            else:  # suppressed: a short stub, the text instead of the number
                w, text, fill = 4.0, str(value), "none"
            parts.append(
                f'<rect x="{left}" y="{by}" width="{w:.1f}" height="{bar - 2}" fill="{fill}" '
                f'stroke="{_COLORS[n % 2]}"><title>{html.escape(name)}: '
                f"{html.escape(text)}</title></rect>"
            )
            parts.append(
                f'<text x="{left + w + 4:.1f}" y="{by + bar - 3}" font-size="10">'
                f"{html.escape(text)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)
