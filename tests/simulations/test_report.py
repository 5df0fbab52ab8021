"""The report's SVG charts: how figures are written, and values that must not be shown."""

from __future__ import annotations

import re

import pytest

from simulations.charts import bar_chart, figure, line_chart


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (1.5, "1.5"),
        (2.0, "2"),
        (2, "2"),
        (0.0, "0"),
        (0.04, "0"),
        (-0.04, "0"),
        (1.96, "2"),
        (12_345.6, "12,345.6"),
        (1_000_000.0, "1,000,000"),
    ],
)
def test_a_figure_has_one_decimal_unless_it_is_whole(value: float, written: str) -> None:
    assert figure(value) == written


def _texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_the_peak_of_a_line_is_written_with_its_decimal() -> None:
    svg = line_chart("load", ["d1", "d2", "d3"], {"sms": [0.5, 1.5, 1.0]})
    assert "peak 1.5" in _texts(svg) and "peak 2" not in _texts(svg)
    assert "1.5" in _texts(svg)  # the axis's top, likewise
    assert "<title>sms peak 1.5 on d2</title>" in svg


def test_a_line_chart_takes_another_label_rule() -> None:
    svg = line_chart("load", ["d1", "d2"], {"sms": [3.0, 1234.0]}, label=lambda v: f"{v:.2f}")
    assert "peak 1234.00" in _texts(svg)


def test_bars_label_numbers_by_the_rule_given() -> None:
    svg = bar_chart("t", ["a"], {"mean": [2.25]}, label=lambda v: f"{v:.2f}")
    assert "2.25" in _texts(svg)
    assert "2" in _texts(bar_chart("t", ["a"], {"mean": [2.25]}))  # whole by default


def test_a_suppressed_value_is_a_stub_with_its_text_and_no_number() -> None:
    svg = bar_chart("eligible", ["东城区", "西城区"], {"before": [12, "<10"], "after": [30, "<10"]})
    texts = _texts(svg)
    assert texts.count("&lt;10") == 2 and "12" in texts and "30" in texts
    stubs = re.findall(r'<rect x="170" y="\d+" width="([\d.]+)" height="10" fill="none"', svg)
    assert stubs == ["4.0", "4.0"]  # the same short stub whatever the hidden count
    # The scale comes from the numbers shown: 30 is the full width (640 - 170 - 90).
    assert 'width="380.0" height="10" fill="#c0392b"' in svg


def test_a_chart_scales_to_a_narrow_screen() -> None:
    for svg in (bar_chart("t", ["a"], {"x": [1]}), line_chart("t", ["a", "b"], {"x": [1, 2]})):
        width, height = re.search(r'width="(\d+)" height="(\d+)"', svg).groups()  # type: ignore[union-attr]
        assert f'viewBox="0 0 {width} {height}"' in svg
