"""PNG files of a report's charts (matplotlib, Agg), beside its HTML and CSV files.

The same :class:`simulations.charts.Chart` values the HTML draws as SVG are drawn here, so the
two never disagree.  matplotlib is imported only when a PNG is written: ``zhida`` starts
without it.

Chinese labels need a font that really draws Chinese.  A font qualifies when it gives each
of a few common characters (人口政策…) a glyph of its own: a placeholder font such as
matplotlib's bundled "Last Resort" maps every code point to the same box and is refused.
Noto Sans CJK, Source Han Sans and WenQuanYi come first; a font installed after matplotlib
built its font cache (fonts-wqy-microhei after ``pip install``) is found among the system's
fonts and added.  With such a font the PNGs are bilingual like the HTML.  Without one, they
carry the English half of each bilingual label and romanised district names — never boxes —
and the Chinese stays in the HTML.  Nothing is downloaded or installed.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from matplotlib.figure import Figure

    from simulations.charts import Chart

__all__ = ["MAX_BARS", "cjk_font", "draw", "draws_chinese", "latin_label", "write_png"]

# A bar chart of more labels than this shows the largest ones and says so in its title.
MAX_BARS = 40
_BAR_COLORS = ("#9aa5b1", "#c0392b", "#2e86de", "#27ae60")
_LINE_COLORS = ("#c0392b", "#2e86de", "#27ae60", "#8e44ad", "#9aa5b1")
_PREFERRED = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
              "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Serif CJK SC",
              "Droid Sans Fallback", "AR PL UMing CN")  # fmt: skip
# Font files whose names say CJK, looked at first among the system's fonts.
_CJK_FILE = re.compile(r"wqy|cjk|sourcehan|source-han|droidsansfallback|uming|ukai", re.I)
# Characters every font for Chinese labels must draw, each with a glyph of its own.
_SAMPLE = "人口政策推演年度成本"
_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]+")
_ROMAN = {
    "东城区": "Dongcheng", "西城区": "Xicheng", "朝阳区": "Chaoyang", "丰台区": "Fengtai",
    "石景山区": "Shijingshan", "海淀区": "Haidian", "门头沟区": "Mentougou",
    "房山区": "Fangshan", "通州区": "Tongzhou", "顺义区": "Shunyi", "昌平区": "Changping",
    "大兴区": "Daxing", "怀柔区": "Huairou", "平谷区": "Pinggu", "密云区": "Miyun",
    "延庆区": "Yanqing", "外省市": "other provinces", "北京": "Beijing",
    "非京籍": "non-Beijing hukou",
}  # fmt: skip


@cache
def cjk_font() -> str | None:
    """The family name of an installed font that draws Chinese, or ``None``.

    Fonts matplotlib knows come first (the preferred families before the rest); then fonts of
    the system its font cache has not seen, which are added to it when one qualifies.
    """
    from matplotlib import font_manager

    known = sorted(
        font_manager.fontManager.ttflist,
        key=lambda f: _PREFERRED.index(f.name) if f.name in _PREFERRED else len(_PREFERRED),
    )
    for font in known:
        if draws_chinese(font.fname, font.index):
            return str(font.name)
    seen = {font.fname for font in known}
    unseen = [path for path in _system_font_files() if path not in seen]
    for path in sorted(unseen, key=lambda p: not _CJK_FILE.search(Path(p).name)):
        if draws_chinese(path):
            font_manager.fontManager.addfont(path)
            return _family(path)
    return None


def draws_chinese(path: str, index: int = 0) -> bool:
    """Whether the font at ``path`` draws Chinese: every sample character has its own glyph.

    A placeholder font ("Last Resort") maps every code point to one box, so it fails.
    """
    from matplotlib.ft2font import FT2Font

    try:
        face = FT2Font(path, face_index=index)
    except (OSError, RuntimeError, ValueError):
        return False
    glyphs = {face.get_char_index(ord(c)) for c in _SAMPLE}
    return 0 not in glyphs and len(glyphs) == len(set(_SAMPLE))


def _family(path: str) -> str:
    from matplotlib.ft2font import FT2Font

    return str(FT2Font(path).family_name)


def _system_font_files() -> list[str]:
    from matplotlib import font_manager

    return list(font_manager.findSystemFonts())


def latin_label(text: str) -> str:
    """``text`` without Chinese: the English half of a bilingual label, or a romanised name.

    >>> latin_label("before 改革前"), latin_label("西城区"), latin_label("Cost · 年度成本（元）")
    ('before', 'Xicheng', 'Cost')
    >>> latin_label("some 区 thing"), latin_label("未知")
    ('some thing', '?')
    """
    if text in _ROMAN:
        return _ROMAN[text]
    head = text.split(" · ", maxsplit=1)[0]
    latin = " ".join(_CJK.sub(" ", head).split())
    return latin or "?"


def write_png(chart: Chart, path: Path) -> Path:
    """Draw ``chart`` into ``path`` (a PNG); returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = draw(chart)
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=110)
    return path


def draw(chart: Chart) -> Figure:
    """``chart`` as a matplotlib figure (no pyplot state), labelled for the fonts installed."""
    from matplotlib import rc_context

    font = cjk_font()
    text: Callable[[str], str] = str if font else latin_label
    families = ["DejaVu Sans", font] if font else ["DejaVu Sans"]
    # Text objects keep their font properties, so the figure may be saved outside the context.
    with rc_context({"font.family": families, "axes.unicode_minus": False}):
        return _bars(chart, text) if chart.kind == "bar" else _lines(chart, text)


def _number(value: float, _: object = None) -> str:
    """An axis tick: thousands separated, a decimal only where the tick has one."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3f}".rstrip("0")


def _bars(chart: Chart, text: Callable[[str], str]) -> Figure:
    from matplotlib.figure import Figure

    labels = list(chart.labels)
    series = {name: [float(v) for v in values] for name, values in chart.series.items()}
    title = text(chart.title)
    if len(labels) > MAX_BARS:
        largest = sorted(range(len(labels)), key=lambda i: -max(v[i] for v in series.values()))
        keep = sorted(largest[:MAX_BARS])
        title += f" (largest {MAX_BARS} of {len(labels)})"
        labels = [labels[i] for i in keep]
        series = {k: [v[i] for i in keep] for k, v in series.items()}
    rows = max(len(labels), 1)
    height = 1.2 + rows * (0.22 * len(series) + 0.12)
    figure = Figure(figsize=(9, height), layout="constrained")
    axes = figure.add_subplot()
    bar = 0.8 / max(len(series), 1)
    top = max((max(v, default=0.0) for v in series.values()), default=0.0) or 1.0
    for n, (name, values) in enumerate(series.items()):
        ys = [i + (n - (len(series) - 1) / 2) * bar for i in range(len(labels))]
        bars = axes.barh(ys, values, height=bar * 0.9, label=text(name),
                         color=_BAR_COLORS[n % len(_BAR_COLORS)])  # fmt: skip
        axes.bar_label(bars, labels=[f"{v:,.0f}" for v in values], padding=2, fontsize=7)
    axes.set_yticks(range(len(labels)), [text(label) for label in labels], fontsize=8)
    axes.invert_yaxis()  # the first label on top, as in the HTML
    axes.set_xlim(0, top * 1.15)
    axes.xaxis.set_major_formatter(_number)
    axes.tick_params(axis="x", labelsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_title(title, loc="left", fontsize=11)
    axes.legend(fontsize=8, loc="lower right", bbox_to_anchor=(1, 1), ncols=len(series),
                frameon=False)  # fmt: skip
    return figure


def _lines(chart: Chart, text: Callable[[str], str]) -> Figure:
    from matplotlib.figure import Figure

    from simulations.charts import figure as peak_text  # the SVG's and the console's rule

    figure = Figure(figsize=(10, 3.6), layout="constrained")
    axes = figure.add_subplot()
    labels = list(chart.labels)
    for k, (name, values) in enumerate(chart.series.items()):
        points = [float(v) for v in values]
        if not points:
            continue
        color = _LINE_COLORS[k % len(_LINE_COLORS)]
        axes.plot(range(len(points)), points, color=color, linewidth=1.2, label=text(name))
        peak = max(range(len(points)), key=points.__getitem__)
        axes.plot([peak], [points[peak]], "o", color=color, markersize=4)
        note = f"peak {peak_text(points[peak])} on {labels[peak]}"
        axes.annotate(note, (peak, points[peak]), textcoords="offset points", xytext=(4, 4),
                      fontsize=7, color=color)  # fmt: skip
    step = max(len(labels) // 8, 1)
    ticks = list(range(0, len(labels), step))
    axes.set_xticks(ticks, [labels[i] for i in ticks], fontsize=7, rotation=30, ha="right")
    axes.yaxis.set_major_formatter(_number)
    axes.tick_params(axis="y", labelsize=8)
    axes.set_ylim(bottom=0)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_title(text(chart.title), loc="left", fontsize=11)
    axes.legend(fontsize=8, loc="lower right", bbox_to_anchor=(1, 1), ncols=len(chart.series),
                frameon=False)  # fmt: skip
    return figure
