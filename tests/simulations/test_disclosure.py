"""The one small-count rule: what each figure shows, and that every way of showing agrees."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from simulations.charts import bar_chart
from simulations.disclosure import (
    HIDDEN,
    K_ANONYMITY,
    cost,
    is_small,
    is_withheld,
    k_anonymous,
    money,
    reach_rows,
    suppress,
)


def test_the_threshold_is_ten() -> None:
    assert K_ANONYMITY == 10


@pytest.mark.parametrize(
    ("count", "shown"),
    [(0, 0), (1, "<10"), (5, "<10"), (9, "<10"), (10, 10), (11, 11), (12_345, 12_345)],
)
def test_a_count_under_ten_but_not_zero_is_withheld(count: int, shown: int | str) -> None:
    assert suppress(count) == shown


@pytest.mark.parametrize(("count", "k", "shown"), [(3, 5, "<5"), (5, 5, 5), (1, 2, "<2")])
def test_the_threshold_can_be_given(count: int, k: int, shown: int | str) -> None:
    assert suppress(count, k) == shown


@pytest.mark.parametrize(
    ("value", "eligible", "shown"),
    [(1200, 12, "1200"), (1200, 9, HIDDEN), (300, 1, HIDDEN), (0, 0, "0"), (None, 0, "0")],
)
def test_the_cost_of_a_withheld_count_is_hidden(value: Any, eligible: int, shown: str) -> None:
    assert cost(value, eligible=eligible) == shown


@pytest.mark.parametrize(
    ("value", "eligible", "shown"),
    [(1200, 12, "1200.00"), ("99.5", 10, "99.50"), (1200, 5, HIDDEN)],
)
def test_a_cost_in_yuan_is_written_to_the_fen(value: Any, eligible: int, shown: str) -> None:
    assert cost(value, eligible=eligible, text=money) == shown


@pytest.mark.parametrize(
    ("value", "withheld"), [("<10", True), (HIDDEN, True), (0, False), (12, False), (3.5, False)]
)
def test_a_withheld_figure_is_the_text_standing_in_for_it(value: object, withheld: bool) -> None:
    assert is_withheld(value) is withheld


@pytest.mark.parametrize("count", range(0, 25))
def test_a_table_and_a_single_figure_show_the_same_count(count: int) -> None:
    frame = k_anonymous(pl.DataFrame({"eligible_after": [count], "cost_year_after": [count * 100]}))
    assert frame["eligible_after"][0] == str(suppress(count))
    assert frame["cost_year_after"][0] == cost(count * 100, eligible=count)
    (row,) = reach_rows([{"eligible_after": count, "cost_year_after": count * 100}])
    assert row["eligible_after"] == suppress(count)
    assert row["cost_year_after"] == cost(count * 100, eligible=count)
    assert is_withheld(row["eligible_after"]) is is_small(count)


def test_a_table_hides_each_cost_by_the_count_it_is_of() -> None:
    frame = pl.DataFrame(
        {"policy_id": ["a", "b"], "eligible_before": [3, 40], "eligible_after": [40, 3],
         "cost_year_before": [300, 4000], "cost_year_after": [4000, 300],
         "cost_year_change": [3700, -3700], "shared": [2, 20]},
    )  # fmt: skip
    shown = k_anonymous(frame)
    assert shown["cost_year_before"].to_list() == [HIDDEN, "4000"]
    assert shown["cost_year_after"].to_list() == ["4000", HIDDEN]
    assert shown["cost_year_change"].to_list() == [HIDDEN, HIDDEN]  # of both: either gives away
    assert shown["shared"].to_list() == ["<10", "20"]
    assert shown["policy_id"].to_list() == ["a", "b"]  # not a count


def test_a_float_column_named_like_a_count_is_not_a_count() -> None:
    shown = k_anonymous(pl.DataFrame({"eligible_share": [0.5]}))
    assert shown["eligible_share"].to_list() == [0.5]


def test_a_chart_draws_a_withheld_count_as_a_stub_without_its_number() -> None:
    (row,) = reach_rows([{"dimension": "district", "group": "西城区", "eligible_before": 4,
                          "eligible_after": 400}])  # fmt: skip
    svg = bar_chart("t", ["西城区"], {"before": [row["eligible_before"]],
                                     "after": [row["eligible_after"]]})  # fmt: skip
    assert "&lt;10" in svg and 'fill="none"' in svg
    assert ">4<" not in svg and ": 4<" not in svg
