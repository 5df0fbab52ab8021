"""The columnar household and firm aggregates equal a plain Python reading of the same links."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from profiles.derive import whole_years_between
from profiles.links import EARNS_BY_RULE_UNDER, employer_aggregates, household_aggregates
from profiles.schema import load_schema

AS_OF = date(2026, 6, 1)
SCHEMA = load_schema()
RELATIONS = SCHEMA.resident.field("relation_to_head").values
_AGGREGATES = [f.name for f in SCHEMA.household.derived_fields]
_BOUNDS = [f"{f}:{s}" for f in ("income_total", "income_per_capita") for s in ("least", "greatest")]

# Any age, young children often, and the boundaries: 3, 16 and 80 on the as-of date itself.
births = st.one_of(
    st.none(),
    st.dates(min_value=date(1920, 1, 1), max_value=AS_OF),
    st.dates(min_value=date(2020, 1, 1), max_value=AS_OF),
    st.sampled_from([date(2023, 6, 1), date(2023, 6, 2), date(2010, 6, 1), date(1946, 6, 1),
                     date(1946, 6, 2), date(2001, 6, 1)]),
)  # fmt: skip
members = st.lists(
    st.fixed_dictionaries(
        {
            "household_id": st.sampled_from(["h1", "h2", "h3", "h4"]),
            "relation_to_head": st.sampled_from(RELATIONS),
            "birth_date": births,
            "monthly_income": st.one_of(st.none(), st.floats(0, 50_000, allow_nan=False)),
        }
    ),
    max_size=25,
)


def residents(rows: list[dict[str, Any]]) -> pl.LazyFrame:
    records = [{"person_id": f"p{i}", **row} for i, row in enumerate(rows)]
    schema = {f.name: f.polars_dtype for f in SCHEMA.resident.stored_fields}
    frame = pl.DataFrame(records, schema={k: schema[k] for k in ("person_id", *rows[0])}) if rows \
        else pl.DataFrame(schema=schema)  # fmt: skip
    return frame.lazy()


def reference(rows: list[dict[str, Any]], household: str) -> dict[str, Any]:
    """One household's aggregates, read the way an assessor would."""
    mine = [
        dict(r, person_id=f"p{i}") for i, r in enumerate(rows) if r["household_id"] == household
    ]
    if not mine:  # no members: nothing is known but that (refused by the link checks)
        return dict.fromkeys(_AGGREGATES + _BOUNDS) | {"size": 0, "living_alone": False}
    ages = [whole_years_between(r["birth_date"], AS_OF) if r["birth_date"] else None for r in mine]
    incomes = []
    for r, age in zip(mine, ages, strict=True):
        if r["monthly_income"] is not None:
            incomes.append(r["monthly_income"])
        elif age is not None and age < EARNS_BY_RULE_UNDER:
            incomes.append(0.0)
        else:
            incomes.append(None)
    total = None if None in incomes else sum(incomes)
    # an unknown income is at least 0 (monthly_income's min) and at most anything (no max)
    least = sum(i if i is not None else 0.0 for i in incomes)
    count = lambda test: None if None in ages else sum(1 for a in ages if test(a))  # noqa: E731
    heads = [r["person_id"] for r in mine if r["relation_to_head"] == "head"]
    return {
        "size": len(mine),
        "income_total": total,
        "income_per_capita": total / len(mine) if total is not None else None,
        "members_under_3": count(lambda a: a < 3),
        "members_over_80": count(lambda a: a >= 80),
        "living_alone": len(mine) == 1,
        "head_id": heads[0] if heads else None,
        "income_total:least": least,
        "income_total:greatest": total,
        "income_per_capita:least": least / len(mine),
        "income_per_capita:greatest": total / len(mine) if total is not None else None,
    }


@settings(max_examples=150, deadline=None)
@given(members)
def test_household_aggregates_equal_the_reference(rows: list[dict[str, Any]]) -> None:
    homes = pl.LazyFrame({"household_id": ["h1", "h2", "h3", "h4"]})
    got = household_aggregates(residents(rows), homes, as_of=AS_OF).collect()
    for row in got.iter_rows(named=True):
        want = reference(rows, row.pop("household_id"))
        for key in ("income_total", "income_per_capita", *_BOUNDS):
            if want[key] is not None:
                assert abs(row[key] - want[key]) <= 1e-6 * max(1.0, abs(want[key])), key
                row[key] = want[key]
        assert row == want


jobs = st.lists(
    st.fixed_dictionaries(
        {
            "enterprise_id": st.sampled_from(["F1", "F2"]),
            "person": st.integers(0, 5),
            "hired_on": st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 1, 1)),
            "left_after": st.one_of(st.none(), st.integers(0, 900)),
        }
    ),
    max_size=20,
)
people_births = st.lists(births, min_size=6, max_size=6)


@settings(max_examples=150, deadline=None)
@given(jobs, people_births)
def test_firm_aggregates_equal_the_reference(
    rows: list[dict[str, Any]], born: list[date | None]
) -> None:
    employments = pl.LazyFrame(
        {
            "person_id": [f"p{r['person']}" for r in rows],
            "enterprise_id": [r["enterprise_id"] for r in rows],
            "hired_on": [r["hired_on"] for r in rows],
            "left_on": [
                r["hired_on"] + timedelta(days=r["left_after"]) if r["left_after"] is not None
                else None
                for r in rows
            ],
        },
        schema={"person_id": pl.String, "enterprise_id": pl.String, "hired_on": pl.Date,
                "left_on": pl.Date},
    )  # fmt: skip
    people = pl.LazyFrame(
        {"person_id": [f"p{i}" for i in range(6)], "birth_date": born},
        schema={"person_id": pl.String, "birth_date": pl.Date},
    )
    got = {
        r["enterprise_id"]: (r["employees"], r["graduate_hires"])
        for r in employer_aggregates(employments, people, as_of=AS_OF)
        .collect()
        .iter_rows(named=True)
    }
    a_year_ago = date(2025, 6, 1)
    for firm in {r["enterprise_id"] for r in rows}:
        mine = [r for r in rows if r["enterprise_id"] == firm]
        employed = sum(
            1 for r in mine
            if r["hired_on"] <= AS_OF
            and (r["left_after"] is None or r["hired_on"] + timedelta(days=r["left_after"]) > AS_OF)
        )  # fmt: skip
        recent = [r for r in mine if a_year_ago < r["hired_on"] <= AS_OF]
        ages = [
            whole_years_between(born[r["person"]], r["hired_on"]) if born[r["person"]] else None
            for r in recent
        ]
        known = [a for a in ages if a is not None]
        young = None if len(known) < len(ages) else sum(1 for a in known if 16 <= a <= 24)
        assert got[firm] == (employed, young)
