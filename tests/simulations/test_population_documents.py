"""The generator's 就业创业证 and unemployment registration, 居住证 and 计生特殊家庭 flag:
who holds each and when, at their boundaries (simulations/population/SOURCES.md)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from simulations.population._residents import draw_residents

AS_OF = date(2026, 6, 30)


@pytest.fixture(scope="module")
def residents() -> pl.DataFrame:
    drawn = draw_residents(np.random.default_rng(7), 20_000, as_of=AS_OF).residents
    birth = pl.col("birth_date")
    day = birth.dt.month().cast(pl.Int32) * 100 + birth.dt.day().cast(pl.Int32)  # not Int8
    age = (AS_OF.year - birth.dt.year().cast(pl.Int64)) - (
        day > AS_OF.month * 100 + AS_OF.day
    ).cast(pl.Int64)
    return drawn.with_columns(age.alias("age"))


def test_every_unemployed_resident_is_registered_within_the_last_540_days(
    residents: pl.DataFrame,
) -> None:
    unemployed = residents.filter(pl.col("employment_status") == "unemployed")
    assert unemployed.height > 100 and unemployed["employment_card"].all()
    on = unemployed["unemployment_registered_on"]
    assert on.null_count() == 0
    assert on.min() >= AS_OF - timedelta(days=540) and on.max() <= AS_OF  # type: ignore[operator]


def test_a_registration_date_is_on_file_exactly_for_card_holders(residents: pl.DataFrame) -> None:
    card = residents["employment_card"]
    assert card.null_count() == 0  # known for everyone: no card is false, not unknown
    assert (residents["unemployment_registered_on"].is_not_null() == card).all()
    once = residents.filter(pl.col("employment_card"), pl.col("employment_status") != "unemployed")
    assert once.height > 0
    assert set(once["employment_status"]) == {"employed"}
    assert once["age"].min() >= 16 and once["age"].max() < 60  # type: ignore[operator]
    days = (pl.lit(AS_OF) - once["unemployment_registered_on"]).dt.total_days()
    assert once.select(days.min()).item() >= 180 and once.select(days.max()).item() <= 2190
    share = (
        once.height
        / residents.filter(
            pl.col("employment_status") == "employed", pl.col("age").is_between(16, 59)
        ).height
    )
    assert 0.04 < share < 0.08  # 6 % modelled


def test_a_residence_permit_is_held_only_by_non_hukou_residents_aged_16_or_over(
    residents: pl.DataFrame,
) -> None:
    permit = residents.filter(pl.col("residence_permit"))
    assert permit.height > 0 and (permit["hukou_city"] != "北京市").all()
    assert permit["age"].min() == 16  # the boundary: from 16 on
    eligible = residents.filter(pl.col("hukou_city") != "北京市", pl.col("age") >= 16)
    assert 0.50 < permit.height / eligible.height < 0.60  # 55 % modelled
    assert residents["residence_permit"].null_count() == 0


def test_family_planning_special_parents_are_beijing_hukou_residents_aged_50_or_over(
    residents: pl.DataFrame,
) -> None:
    special = residents.filter(pl.col("family_planning_special"))
    assert special.height > 0 and (special["hukou_city"] == "北京市").all()
    assert special["age"].min() >= 50  # type: ignore[operator]
    assert residents["family_planning_special"].null_count() == 0


def test_the_new_fields_leave_every_other_field_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """They come from a jumped copy of the generator: without them, the same seed draws the
    same bytes for every other field, and the generator's state after is the same."""
    import simulations.population._residents as module

    with_them = np.random.default_rng(11)
    drawn = draw_residents(with_them, 500, as_of=AS_OF)
    monkeypatch.setattr(module, "_documents", lambda *args: {})
    without = np.random.default_rng(11)
    plain = draw_residents(without, 500, as_of=AS_OF)
    assert drawn.residents.drop(_NEW).equals(plain.residents)
    assert drawn.households.equals(plain.households)
    assert with_them.bit_generator.state == without.bit_generator.state


_NEW = [
    "employment_card",
    "unemployment_registered_on",
    "residence_permit",
    "family_planning_special",
]
