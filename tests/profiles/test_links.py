"""Aggregates over links: households from their members, firms from their employments."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from core.errors import SchemaError
from profiles.links import (
    employer_aggregates,
    household_aggregates,
    with_employer_fields,
    with_household_fields,
    with_links,
)
from profiles.schema import load_schema

AS_OF = date(2026, 6, 1)
SCHEMA = load_schema()


def people(**columns: list[object]) -> pl.LazyFrame:
    """Residents in the schema's dtypes; fields not given are unknown."""
    n = len(next(iter(columns.values())))
    return pl.LazyFrame(
        {
            f.name: pl.Series(f.name, columns.get(f.name, [None] * n), dtype=f.polars_dtype)
            for f in SCHEMA.resident.stored_fields
        }
    )


def homes(*ids: str) -> pl.LazyFrame:
    return pl.LazyFrame(
        {
            f.name: pl.Series(f.name, list(ids) if f.name == "household_id" else [None] * len(ids),
                              dtype=f.polars_dtype)
            for f in SCHEMA.household.stored_fields
        }
    )  # fmt: skip


def family() -> pl.LazyFrame:
    """h1: a couple with a baby and a 12-year-old; h2: a widow of 85 living alone; h3: a
    couple, one of whose incomes is unknown."""
    return people(
        person_id=["dad", "mum", "baby", "kid", "gran", "x", "y"],
        household_id=["h1", "h1", "h1", "h1", "h2", "h3", "h3"],
        relation_to_head=["head", "spouse", "child", "child", "head", "head", "spouse"],
        birth_date=[date(1990, 3, 1), date(1992, 4, 1), date(2025, 1, 1), date(2014, 1, 1),
                    date(1941, 1, 1), date(1980, 1, 1), date(1981, 1, 1)],
        monthly_income=[6000.0, 3000.0, None, None, 1200.0, 5000.0, None],
        mother_id=[None, None, "mum", None, None, None, None],
        household_size=[9, 9, 9, 9, 9, 9, 9],
        household_income_per_capita=[1.0] * 7,
        children_under_3=[5, 5, 5, 5, 5, 5, 5],
    )  # fmt: skip


def aggregates() -> dict[str, dict[str, object]]:
    frame = household_aggregates(family(), homes("h1", "h2", "h3"), as_of=AS_OF).collect()
    return {row["household_id"]: row for row in frame.iter_rows(named=True)}


def test_a_household_counts_its_members_and_sums_their_income() -> None:
    h1 = aggregates()["h1"]
    # Children under 16 with no income recorded earn 0: 9,000 over four members.
    assert (h1["size"], h1["income_total"], h1["income_per_capita"]) == (4, 9000.0, 2250.0)
    assert (h1["members_under_3"], h1["members_over_80"], h1["living_alone"]) == (1, 0, False)
    assert h1["head_id"] == "dad"


def test_an_adult_member_s_unknown_income_makes_the_household_s_unknown() -> None:
    h3 = aggregates()["h3"]
    assert (h3["size"], h3["income_total"], h3["income_per_capita"]) == (2, None, None)


def test_an_elder_alone_is_a_household_of_one_over_80() -> None:
    h2 = aggregates()["h2"]
    assert (h2["size"], h2["living_alone"], h2["members_over_80"]) == (1, True, 1)
    assert h2["income_per_capita"] == 1200.0


def test_a_member_s_unknown_birth_date_makes_the_age_counts_unknown() -> None:
    frame = people(person_id=["a", "b"], household_id=["h", "h"],
                   relation_to_head=["head", "child"], birth_date=[date(1990, 1, 1), None],
                   monthly_income=[100.0, 0.0])  # fmt: skip
    row = household_aggregates(frame, homes("h"), as_of=AS_OF).collect().row(0, named=True)
    assert (row["members_under_3"], row["members_over_80"], row["size"]) == (None, None, 2)
    # Its income is recorded (0), so the household's is known even without its age.
    assert row["income_total"] == 100.0


def test_the_derived_columns_have_the_schema_s_dtypes() -> None:
    frame = household_aggregates(family(), homes("h1"), as_of=AS_OF).collect()
    fields = frame.select(c for c in frame.columns if ":" not in c)
    assert fields.schema == SCHEMA.household.polars_schema(include_derived=True)
    # and each income figure its bounds beside it, in the figure's dtype
    bounds = {c: t for c, t in frame.schema.items() if ":" in c}
    assert bounds == {f"{f}:{side}": pl.Float64 for f in ("income_total", "income_per_capita")
                      for side in ("least", "greatest")}  # fmt: skip


def test_known_incomes_bound_a_household_s_unknown_income() -> None:
    # an adult's income unknown: at least what the others earn (monthly_income's min is 0),
    # and no most (no max is declared); a child under 16 earns 0 by rule
    frame = people(person_id=["a", "b", "c"], household_id=["h"] * 3,
                   relation_to_head=["head", "spouse", "child"],
                   birth_date=[date(1980, 1, 1), date(1981, 1, 1), date(2020, 1, 1)],
                   monthly_income=[6000.0, None, None])  # fmt: skip
    row = household_aggregates(frame, homes("h"), as_of=AS_OF).collect().row(0, named=True)
    assert (row["income_total"], row["income_per_capita"]) == (None, None)
    assert (row["income_total:least"], row["income_total:greatest"]) == (6000.0, None)
    assert (row["income_per_capita:least"], row["income_per_capita:greatest"]) == (2000.0, None)


def test_a_known_income_is_its_own_bound() -> None:
    row = aggregates()["h2"]
    assert row["income_per_capita:least"] == row["income_per_capita:greatest"] == 1200.0


def test_an_unknown_aggregate_name_in_a_schema_extension_is_refused(tmp_path) -> None:
    ext = tmp_path / "ext.yaml"
    ext.write_text(
        "entities:\n  household:\n    fields:\n      - {name: pets, type: integer, zh: x, "
        "en: x, derived: {from: members, as: pets}}\n",
        encoding="utf-8",
    )
    with pytest.raises(SchemaError, match="as 'pets'; expected one of size"):
        household_aggregates(family(), homes("h1"), as_of=AS_OF, schema=load_schema([ext]))


def test_residents_take_their_household_s_size_income_and_children() -> None:
    households = household_aggregates(family(), homes("h1", "h2", "h3"), as_of=AS_OF)
    out = with_household_fields(family(), households, as_of=AS_OF).collect()
    got = {
        r["person_id"]: (r["household_size"], r["household_income_per_capita"],
                         r["children_under_3"])
        for r in out.iter_rows(named=True)
    }  # fmt: skip
    # The baby names its mother: hers; the father is the head, the baby a child of the head.
    assert got["mum"] == (4, 2250.0, 1)
    assert got["dad"] == (4, 2250.0, 0)  # the baby names a mother only: not counted by relation
    assert got["gran"] == (1, 1200.0, 0)
    assert got["x"] == (2, None, 0)
    assert out.columns == family().collect_schema().names()


def test_a_child_under_3_naming_no_parent_counts_for_the_head_and_spouse() -> None:
    frame = people(person_id=["a", "b", "c"], household_id=["h", "h", "h"],
                   relation_to_head=["head", "spouse", "child"],
                   birth_date=[date(1990, 1, 1), date(1990, 1, 1), date(2025, 1, 1)])  # fmt: skip
    households = household_aggregates(frame, homes("h"), as_of=AS_OF)
    out = with_household_fields(frame, households, as_of=AS_OF).collect()
    assert out["children_under_3"].to_list() == [1, 1, 0]


def test_a_child_of_unknown_age_makes_the_parent_s_count_unknown() -> None:
    frame = people(person_id=["a", "b", "c"], household_id=["h", "h", "h"],
                   relation_to_head=["head", "spouse", "child"], father_id=[None, None, "a"],
                   birth_date=[date(1990, 1, 1), date(1990, 1, 1), None])  # fmt: skip
    households = household_aggregates(frame, homes("h"), as_of=AS_OF)
    out = with_household_fields(frame, households, as_of=AS_OF).collect()
    # The father's child may be under 3; the spouse names no child (the child names a father).
    assert out["children_under_3"].to_list() == [None, 0, 0]


def test_a_resident_without_a_household_keeps_the_values_on_file() -> None:
    frame = people(person_id=["solo"], household_size=[3], household_income_per_capita=[800.0],
                   children_under_3=[1])  # fmt: skip
    households = household_aggregates(frame, homes("h"), as_of=AS_OF)
    row = with_household_fields(frame, households, as_of=AS_OF).collect().row(0, named=True)
    assert (row["household_size"], row["household_income_per_capita"],
            row["children_under_3"]) == (3, 800.0, 1)  # fmt: skip


def jobs() -> pl.LazyFrame:
    return pl.LazyFrame(
        {
            "person_id": ["young", "old", "gone", "future", "young2", "unknown_age"],
            "enterprise_id": ["F1", "F1", "F1", "F1", "F2", "F3"],
            "hired_on": [date(2026, 1, 10), date(2026, 2, 1), date(2020, 1, 1),
                         date(2026, 7, 1), date(2024, 1, 1), date(2026, 3, 1)],
            "left_on": [None, None, date(2026, 5, 31), None, None, None],
        },
        schema_overrides={"hired_on": pl.Date, "left_on": pl.Date},
    )  # fmt: skip


def workers() -> pl.LazyFrame:
    return people(
        person_id=["young", "old", "gone", "future", "young2", "unknown_age"],
        # "young" was 24 on the day of hire (born 2001-01-11, hired 2026-01-10), 25 at as-of.
        birth_date=[date(2001, 1, 11), date(1980, 1, 1), date(2003, 1, 1), date(2004, 1, 1),
                    date(2003, 1, 1), None],
    )  # fmt: skip


def test_a_firm_counts_current_staff_and_young_hires_of_the_last_year() -> None:
    out = employer_aggregates(jobs(), workers(), as_of=AS_OF).collect().sort("enterprise_id")
    rows = {
        r["enterprise_id"]: (r["employees"], r["graduate_hires"]) for r in out.iter_rows(named=True)
    }
    # F1: young and old are employed ("gone" left the day before, "future" starts later); of
    # its hires in the last 12 months only "young" was 16-24 when hired.
    assert rows["F1"] == (2, 1)
    assert rows["F2"] == (1, 0)  # hired more than a year ago
    assert rows["F3"] == (1, None)  # a recent hire of unknown age


def test_firms_without_employments_have_none_and_others_keep_only_linked_counts() -> None:
    firms = pl.LazyFrame(
        {"enterprise_id": ["F1", "F9"], "employees": [500, 40], "graduate_hires": [7, 3]},
        schema_overrides={"employees": pl.Int64, "graduate_hires": pl.Int64},
    )
    out = with_employer_fields(firms, jobs(), workers(), as_of=AS_OF).collect()
    assert out.rows() == [("F1", 2, 1), ("F9", 0, 0)]


def test_frames_without_links_come_back_as_they_are() -> None:
    frames = {"resident": family()}
    assert with_links(frames, as_of=AS_OF) == frames


def test_with_links_derives_households_residents_and_firms() -> None:
    firms = pl.LazyFrame(
        {"enterprise_id": ["F1"], "employees": [None], "graduate_hires": [None]},
        schema_overrides={"employees": pl.Int64, "graduate_hires": pl.Int64},
    )
    residents = pl.concat([family(), workers()], how="vertical")
    out = with_links(
        {"resident": residents, "household": homes("h1", "h2", "h3"), "enterprise": firms,
         "employment": jobs()},
        as_of=AS_OF,
    )  # fmt: skip
    assert out["household"].collect()["size"].to_list() == [4, 1, 2]
    mum = out["resident"].filter(pl.col("person_id") == "mum").collect()
    assert mum["household_size"].item() == 4
    assert out["enterprise"].collect().rows() == [("F1", 2, 1)]
    assert out["employment"] is not None


def test_linking_an_already_linked_household_gives_it_again() -> None:
    once = household_aggregates(family(), homes("h1"), as_of=AS_OF)
    twice = household_aggregates(family(), once, as_of=AS_OF).collect()
    assert twice.equals(once.collect())
