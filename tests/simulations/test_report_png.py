from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from matplotlib.font_manager import FontProperties, findfont, fontManager
from matplotlib.image import imread
from matplotlib.text import Text

from simulations import report_png
from simulations.charts import Chart
from simulations.report_png import MAX_BARS, draw, latin_label, write_png
from tests.conftest import CI

CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
BARS = Chart(
    "eligible_by_district", "bar", "Eligible by district · 按区的符合条件人数",
    ("西城区", "海淀区", "独居 living alone"),
    {"before 改革前": [3, 5, 7], "after 改革后": [4, 6, 9]},
)  # fmt: skip
LINES = Chart(
    "push_load", "line", "Daily push load by channel (messages) · 每日推送量（按渠道）",
    tuple(f"2026-07-{d:02d}" for d in range(1, 31)),
    {"sms": [d % 7 for d in range(30)], "inbox": [1.5] * 30},
)  # fmt: skip


def _texts(chart: Chart) -> list[str]:
    return [t.get_text() for t in draw(chart).findobj(Text) if t.get_text()]


@pytest.mark.parametrize(
    ("label", "latin"),
    [
        ("before 改革前", "before"),
        ("西城区", "Xicheng"),
        ("非京籍", "non-Beijing hukou"),
        ("Cost per year (CNY) · 年度成本（元）", "Cost per year (CNY)"),
        ("有3岁以下儿童 with a child under 3", "3 with a child under 3"),
        ("bench-1-40", "bench-1-40"),
        ("未知之地", "?"),
    ],
)
def test_latin_labels_keep_the_english_half(label: str, latin: str) -> None:
    assert latin_label(label) == latin


@pytest.mark.parametrize("chart", [BARS, LINES], ids=["bars", "lines"])
def test_without_a_chinese_font_no_label_needs_one(
    chart: Chart, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_png, "cjk_font", lambda: None)
    texts = _texts(chart)
    assert not [t for t in texts if CJK.search(t)]
    assert latin_label(chart.title) in texts


def test_with_a_chinese_font_labels_are_bilingual_and_drawn_in_it() -> None:
    font = _chinese_font()
    figure = draw(BARS)
    titles = [t for t in figure.findobj(Text) if t.get_text() == BARS.title]
    assert titles and font in titles[0].get_fontfamily()
    assert "西城区" in _texts(BARS)


def test_a_chart_of_many_bars_shows_the_largest_and_says_so() -> None:
    labels = tuple(f"p{i:03d}" for i in range(MAX_BARS + 25))
    values = [float(i) for i in range(len(labels))]
    texts = _texts(Chart("cost", "bar", "Cost", labels, {"after": values}))
    assert f"Cost (largest {MAX_BARS} of {len(labels)})" in texts
    assert labels[-1] in texts and labels[0] not in texts


def test_the_png_is_drawn_at_its_size(tmp_path: Path) -> None:
    path = write_png(LINES, tmp_path / "push_load.png")
    pixels = imread(path)
    assert pixels.shape[:2] == (round(3.6 * 110), 10 * 110)
    # Not blank: the lines and labels put dark pixels on the white page.
    assert (pixels[..., :3] < 0.5).any() and (pixels[..., :3] == 1).mean() > 0.5


LAST_RESORT = "Last Resort High-Efficiency"  # matplotlib's bundled placeholder: a box per glyph


def _chinese_font() -> str:
    font = report_png.cjk_font()
    if font is None:
        message = "no font that draws Chinese is installed (fonts-wqy-microhei: make browsers)"
        if CI:
            pytest.fail(message)
        pytest.skip(message)
    return font


def _render(text: str, family: str) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1.6, 0.6), dpi=100)
    figure.text(0.05, 0.2, text, family=family, fontsize=24)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def test_a_chinese_label_is_drawn_as_characters_not_placeholder_boxes() -> None:
    font = _chinese_font()
    # The placeholder draws 人 and 口 as the same box; the chosen font draws two characters,
    # and 人口 in it is not the placeholder's rendering.
    assert np.array_equal(_render("人", LAST_RESORT), _render("口", LAST_RESORT))
    assert not np.array_equal(_render("人", font), _render("口", font))
    assert not np.array_equal(_render("人口", font), _render("人口", LAST_RESORT))


def test_the_chart_titles_font_file_draws_chinese() -> None:
    font = _chinese_font()
    title = next(t for t in draw(LINES).findobj(Text) if t.get_text() == LINES.title)
    families = title.get_fontfamily()
    assert families[-1] == font and LAST_RESORT not in families
    assert report_png.draws_chinese(findfont(FontProperties(family=font)))


@pytest.fixture
def fresh_font_choice() -> Iterator[None]:
    report_png.cjk_font.cache_clear()
    yield
    report_png.cjk_font.cache_clear()


def test_a_placeholder_font_is_never_chosen_and_the_english_half_is_used(
    monkeypatch: pytest.MonkeyPatch, fresh_font_choice: None
) -> None:
    placeholder = [f for f in fontManager.ttflist if f.name == LAST_RESORT]
    assert placeholder and not report_png.draws_chinese(placeholder[0].fname)
    monkeypatch.setattr(fontManager, "ttflist", placeholder)  # a machine without a CJK font
    monkeypatch.setattr(report_png, "_system_font_files", list)
    assert report_png.cjk_font() is None
    texts = _texts(BARS)
    assert "Eligible by district" in texts and "Xicheng" in texts
    assert not [t for t in texts if CJK.search(t)]


def test_a_font_installed_after_matplotlib_built_its_cache_is_found(
    monkeypatch: pytest.MonkeyPatch, fresh_font_choice: None
) -> None:
    font = _chinese_font()
    path = str(findfont(FontProperties(family=font)))
    stale = [f for f in fontManager.ttflist if f.fname != path]  # the machine
    monkeypatch.setattr(fontManager, "ttflist", stale)
    report_png.cjk_font.cache_clear()
    assert report_png.cjk_font() == font
    assert path in {f.fname for f in fontManager.ttflist}
