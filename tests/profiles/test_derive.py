from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from profiles.derive import with_derived
from profiles.schema import load_schema


@pytest.mark.parametrize(
    ("born", "as_of", "age"),
    [
        (date(1946, 5, 2), date(2026, 5, 2), 80),  # birthday today: already 80
        (date(1946, 5, 3), date(2026, 5, 2), 79),  # birthday tomorrow: still 79
        (date(2000, 2, 29), date(2026, 2, 28), 25),  # leap-day birth, common year
        (date(2000, 2, 29), date(2026, 3, 1), 26),
        (date(2000, 2, 29), date(2028, 2, 29), 28),
        (date(2026, 5, 2), date(2026, 5, 2), 0),
    ],
)
def test_age_is_whole_years_at_the_as_of_date(born: date, as_of: date, age: int) -> None:
    frame = pl.LazyFrame({"birth_date": [born]})
    out = with_derived(frame, load_schema().resident, as_of=as_of).collect()
    assert out["age"].to_list() == [age]


def test_unknown_birth_date_gives_unknown_age() -> None:
    frame = pl.LazyFrame({"birth_date": [None]}, schema={"birth_date": pl.Date})
    out = with_derived(frame, load_schema().resident, as_of=date(2026, 1, 1)).collect()
    assert out["age"].to_list() == [None]


def test_a_file_without_the_source_column_makes_the_derived_field_unknown() -> None:
    frame = pl.LazyFrame({"enterprise_id": ["x"]})
    out = with_derived(frame, load_schema().enterprise, as_of=date(2026, 1, 1)).collect()
    assert out.schema["age_years"] == pl.Int64
    assert out["age_years"].to_list() == [None]
