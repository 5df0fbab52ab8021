"""The charts of simulation reports, drawn as inline SVG: no JavaScript, nothing fetched.

:class:`Chart` is one chart as a value (the HTML draws it with :func:`bar_chart` or
:func:`line_chart`, :mod:`simulations.report_png` as a PNG file); :func:`figure` and
:func:`whole` are how figures are written on them, and the console uses the same rules.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from simulations.disclosure import is_withheld

__all__ = ["Chart", "bar_chart", "figure", "line_chart", "whole"]

_COLORS = ("#9aa5b1", "#c0392b")  # before, after


@dataclass(frozen=True)
class Chart:
    """One chart of a report, drawn as inline SVG in the HTML and, on request, as a PNG file.

    ``name`` is the PNG's file stem; ``series`` maps a legend entry to one value per label.

    >>> chart = Chart("cost", "bar", "Cost · 成本", ("a", "b"), {"before": (1, 2)})
    >>> chart.svg().startswith("<svg")
    True
    """

    name: str
    kind: Literal["bar", "line"]
    title: str
    labels: tuple[str, ...]
    series: Mapping[str, Sequence[float]]

    def svg(self) -> str:
        draw = bar_chart if self.kind == "bar" else line_chart
        return draw(self.title, self.labels, self.series)


def figure(value: float) -> str:
    """A figure as the charts and the console print it: to one decimal, a whole number without
    its ".0" — the one rule for a peak on a chart and on the page beside it.

    >>> figure(1.5), figure(2.0), figure(12_345.04), figure(0.04), figure(-3.25)
    ('1.5', '2', '12,345', '0', '-3.2')
    """
    text = f"{value:,.1f}"
    text = text[:-2] if text.endswith(".0") else text
    return "0" if text == "-0" else text


def whole(value: float) -> str:
    """A figure rounded to a whole number, with thousands separators (bars' default label).

    >>> whole(1234.5), whole(7)
    ('1,234', '7')
    """
    return f"{value:,.0f}"


def _svg_open(title: str, width: int, height: int) -> list[str]:
    # The viewBox lets a page scale the chart down to a narrow screen instead of clipping it.
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="0" y="16" font-weight="bold">{html.escape(title)}</text>',
    ]


def bar_chart(
    title: str, labels: Sequence[str], series: Mapping[str, Sequence[float | str]], *,
    width: int = 640, label: Callable[[float], str] = whole,
) -> str:  # fmt: skip
    """A horizontal grouped bar chart as an SVG string (one bar per series and label).

    A number is a bar to scale, written by ``label``.  A withheld figure
    (:func:`simulations.disclosure.is_withheld`: a count under 10 shown as "<10") is a short
    hollow stub with that text, so neither the bar's length nor its label gives the number away.

    >>> svg = bar_chart("t", ["a", "b"], {"before": [1, 2], "after": [2, 4]})
    >>> svg.startswith("<svg") and svg.count("<rect") == 2 + 4  # legend and bars
    True
    >>> svg = bar_chart("t", ["a", "b"], {"before": [12, "<10"], "after": [3000, 15]})
    >>> "&lt;10" in svg, ">3,000<" in svg, 'fill="none"' in svg
    (True, True, True)
    """
    names = list(series)
    numbers = [float(v) for values in series.values() for v in values if not is_withheld(v)]
    top = max(numbers, default=0) or 1
    bar, gap, left, right = 12, 10, 170, 90
    row = bar * len(names) + gap
    height = 40 + row * len(labels) + 20
    scale = (width - left - right) / top
    parts = _svg_open(title, width, height)
    for n, name in enumerate(names):
        x = left + n * 120
        parts.append(f'<rect x="{x}" y="24" width="10" height="10" fill="{_COLORS[n % 2]}"/>')
        parts.append(f'<text x="{x + 14}" y="33" font-size="11">{html.escape(name)}</text>')
    for i, name_of_row in enumerate(labels):
        y = 44 + i * row
        parts.append(
            f'<text x="{left - 6}" y="{y + bar}" font-size="12" text-anchor="end">'
            f"{html.escape(name_of_row)}</text>"
        )
        for n, name in enumerate(names):
            value, color, by = series[name][i], _COLORS[n % 2], y + n * bar
            if is_withheld(value):  # not to be shown: a stub and the text
                w, text, paint = 4.0, value, f'fill="none" stroke="{color}"'
            else:
                number = float(value)
                w, text = max(number * scale, 0.5 if number else 0), label(number)
                paint = f'fill="{color}"'
            parts.append(
                f'<rect x="{left}" y="{by}" width="{w:.1f}" height="{bar - 2}" {paint}>'
                f"<title>{html.escape(name)}: {html.escape(text)}</title></rect>"
            )
            parts.append(
                f'<text x="{left + w + 4:.1f}" y="{by + bar - 3}" font-size="10">'
                f"{html.escape(text)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


_LINE_COLORS = ("#c0392b", "#2e86de", "#27ae60", "#8e44ad", "#9aa5b1")


def line_chart(
    title: str, labels: Sequence[str], series: Mapping[str, Sequence[float]], *,
    width: int = 760, height: int = 220, label: Callable[[float], str] = figure,
) -> str:  # fmt: skip
    """A time-series chart as an SVG string: one polyline per series over ``labels`` (dates).

    The largest value of each series is marked and labelled (the peak a deployment must carry),
    written by ``label`` like the axis's top: :func:`figure`, as the console's peak card.

    >>> svg = line_chart("load", ["d1", "d2", "d3"], {"sms": [1, 5, 2], "inbox": [0, 1.5, 0]})
    >>> svg.count("<polyline"), "peak 5<" in svg, "peak 1.5<" in svg
    (2, True, True)
    """
    left, right, top_pad, bottom = 50, 20, 40, 30
    top = max((max(v, default=0) for v in series.values()), default=0) or 1
    n = max(len(labels), 2)
    sx = (width - left - right) / (n - 1)
    sy = (height - top_pad - bottom) / top
    base = height - bottom
    parts = [
        *_svg_open(title, width, height),
        f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="#d9dee3"/>',
        f'<text x="{left - 4}" y="{top_pad + 4}" font-size="10" text-anchor="end">'
        f"{html.escape(label(top))}</text>",
        f'<text x="{left - 4}" y="{base}" font-size="10" text-anchor="end">0</text>',
    ]
    if labels:
        parts.append(f'<text x="{left}" y="{height - 8}" font-size="10">'
                     f"{html.escape(labels[0])}</text>")  # fmt: skip
        parts.append(f'<text x="{width - right}" y="{height - 8}" font-size="10" '
                     f'text-anchor="end">{html.escape(labels[-1])}</text>')  # fmt: skip
    for k, (name, values) in enumerate(series.items()):
        color = _LINE_COLORS[k % len(_LINE_COLORS)]
        x0 = left + k * 110
        parts.append(f'<rect x="{x0}" y="24" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{x0 + 14}" y="33" font-size="11">{html.escape(name)}</text>')
        if not values:
            continue
        points = " ".join(
            f"{left + i * sx:.1f},{base - float(v) * sy:.1f}" for i, v in enumerate(values)
        )
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" '
                     'stroke-width="1.2"/>')  # fmt: skip
        peak = max(range(len(values)), key=lambda i: float(values[i]))
        px, py = left + peak * sx, base - float(values[peak]) * sy
        written = html.escape(label(float(values[peak])))
        parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}">'
                     f"<title>{html.escape(name)} peak {written} on "
                     f"{html.escape(labels[peak])}</title></circle>")  # fmt: skip
        parts.append(f'<text x="{px + 4:.1f}" y="{py - 4:.1f}" font-size="10">'
                     f"peak {written}</text>")  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)
