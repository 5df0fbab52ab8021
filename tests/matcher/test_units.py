"""Each unit once, told to its recipient: matcher.units over hand-made linked frames."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl

from matcher.batch import match_frame
from matcher.diff import reach_diff
from matcher.runs import run_diff
from matcher.units import PAIRS_SCHEMA, Links, match_units, match_units_frame, with_unit_columns
from profiles.schema import load_schema
from rules.policy import Policy

SCHEMA = load_schema()
ON = date(2026, 6, 30)


def policy(pid: str, eligibility: str, benefit: str | None = None, **kw: object) -> Policy:
    return Policy(
        id=pid, title=pid, department="d", audience="resident", mode="proactive_push",
        eligibility=eligibility, benefit=benefit, benefit_period="month" if benefit else None,
        valid_from=date(2020, 1, 1), **kw,  # type: ignore[arg-type]
    )  # fmt: skip


DIBAO = policy(
    "dibao",
    "household_income_per_capita < 1450",
    "(1450 - household_income_per_capita) * household_size",
    unit="household",
)
CHILDCARE = policy("childcare", "age < 3", "300", recipient="guardian")


def conformed(frame: pl.LazyFrame, entity: str) -> pl.LazyFrame:
    """Every stored field of ``entity`` in its dtype (absent: unknown), as files are read."""
    present = frame.collect_schema().names()
    return frame.select(
        (pl.col(f.name) if f.name in present else pl.lit(None)).cast(f.polars_dtype).alias(f.name)
        for f in SCHEMA.entity(entity).stored_fields
    )


# h1: a couple and their baby; h2: a grandmother raising a grandchild whose guardian is an
# aunt living elsewhere (h3); s: a resident without links (a household of one).
RESIDENTS = pl.LazyFrame(
    {
        "person_id": ["mum", "dad", "baby", "gran", "grandkid", "aunt", "s"],
        "birth_date": [
            date(1992, 1, 1),
            date(1990, 1, 1),
            date(2025, 3, 1),
            date(1950, 1, 1),
            date(2024, 9, 1),
            date(1985, 1, 1),
            date(1980, 1, 1),
        ],
        "household_id": ["h1", "h1", "h1", "h2", "h2", "h3", None],
        "relation_to_head": ["spouse", "head", "child", "head", "grandchild", "head", None],
        "mother_id": [None, None, "mum", None, None, None, None],
        "father_id": [None, None, "dad", None, None, None, None],
        "guardian_id": [None, None, None, None, "aunt", None, None],
        "household_size": [3, 3, 3, 2, 2, 1, 1],
        "household_income_per_capita": [1000.0, 1000.0, 1000.0, 1200.0, 1200.0, 9000.0, 800.0],
        # With the households file, size and income per capita are the links' (the same here).
        "monthly_income": [1000.0, 2000.0, None, 2400.0, None, 9000.0, 800.0],
    }
)
RESIDENTS = conformed(RESIDENTS, "resident")
HOUSEHOLDS = conformed(
    pl.LazyFrame({"household_id": ["h1", "h2", "h3"], "contact_person_id": ["mum", None, None]}),
    "household",
)
FRAMES = {"resident": RESIDENTS, "household": HOUSEHOLDS}


def rows(pairs: pl.DataFrame) -> set[tuple[object, ...]]:
    return set(
        pairs.select(
            "subject_id", "subject_type", "policy_id", "benefit", "unit", "recipient_id"
        ).rows()
    )


def test_a_household_benefit_is_one_pair_per_household_told_to_its_contact_or_head() -> None:
    pairs = match_units_frame({"resident": RESIDENTS}, [DIBAO], SCHEMA, as_of=ON)
    assert pairs.schema == PAIRS_SCHEMA
    assert rows(pairs) == {
        ("h1", "household", "dibao", Decimal("1350.00"), "household", "dad"),
        ("h2", "household", "dibao", Decimal("500.00"), "household", "gran"),
        ("s", "resident", "dibao", Decimal("650.00"), "household", "s"),
    }
    # With the households file, h1's designated contact is told instead of its head.
    told = match_units_frame(FRAMES, [DIBAO], SCHEMA, as_of=ON)
    assert dict(told.select("subject_id", "recipient_id").rows())["h1"] == "mum"


def test_the_cost_counts_each_household_once_not_each_member() -> None:
    per_member = match_frame({"resident": RESIDENTS}, [DIBAO], SCHEMA, as_of=ON)
    per_unit = match_units_frame(FRAMES, [DIBAO], SCHEMA, as_of=ON)
    assert per_member["benefit"].sum() == Decimal("4050") + Decimal("1000") + Decimal("650")
    assert per_unit["benefit"].sum() == Decimal("1350") + Decimal("500") + Decimal("650")
    summary = reach_diff(per_unit.clear(), per_unit).row(0, named=True)
    assert (summary["eligible_new"], summary["cost_new"]) == (3, Decimal("2500.00"))


def test_a_child_offer_is_one_pair_told_to_one_guardian() -> None:
    pairs = match_units_frame(FRAMES, [CHILDCARE], SCHEMA, as_of=ON)
    assert rows(pairs) == {
        ("baby", "resident", "childcare", Decimal("300.00"), "person", "mum"),
        ("grandkid", "resident", "childcare", Decimal("300.00"), "person", "aunt"),
    }


def test_a_household_split_over_batches_is_still_counted_once() -> None:
    batches = list(match_units(FRAMES, [DIBAO], SCHEMA, as_of=ON, batch_rows=1))
    pairs = pl.concat(batches)
    assert sorted(pairs["subject_id"]) == ["h1", "h2", "s"]


def test_without_links_every_pair_is_its_subjects_and_told_to_them() -> None:
    flat = RESIDENTS.drop("household_id", "relation_to_head", "mother_id", "father_id",
                          "guardian_id")  # fmt: skip
    plain = match_frame({"resident": flat}, [DIBAO, CHILDCARE], SCHEMA, as_of=ON)
    units = match_units_frame({"resident": flat}, [DIBAO, CHILDCARE], SCHEMA, as_of=ON)
    columns = plain.columns
    assert units.select(columns).equals(plain.cast(units.select(columns).schema))
    assert (units["recipient_id"] == units["subject_id"]).all()


def test_a_run_diff_carries_the_recipient_and_reads_pairs_written_before_units(
    tmp_path: Path,
) -> None:
    before = match_frame({"resident": RESIDENTS}, [CHILDCARE], SCHEMA, as_of=ON)
    assert "recipient_id" not in before.columns  # a pairs file of an older run
    before.write_parquet(tmp_path / "old.parquet")
    after = match_units_frame(FRAMES, [CHILDCARE, DIBAO], SCHEMA, as_of=ON)
    after.write_parquet(tmp_path / "new.parquet")
    diff = run_diff(
        pl.scan_parquet(tmp_path / "old.parquet"), pl.scan_parquet(tmp_path / "new.parquet")
    )
    changes = {
        (r["subject_id"], r["policy_id"]): (r["change"], r["unit"], r["recipient_id"])
        for r in diff.collect().to_dicts()
    }
    assert changes == {
        ("h1", "dibao"): ("newly_eligible", "household", "mum"),
        ("h2", "dibao"): ("newly_eligible", "household", "gran"),
        ("s", "dibao"): ("newly_eligible", "household", "s"),
    }  # the children's offers are unchanged: their recipient is news to no one
    ended = run_diff(with_unit_columns(after.lazy()), pl.LazyFrame(schema=PAIRS_SCHEMA))
    lost = {r["subject_id"]: r["recipient_id"] for r in ended.collect().to_dicts()}
    assert lost["baby"] == "mum" and lost["h1"] == "mum"


def test_links_name_the_head_when_no_contact_is_designated() -> None:
    links = Links.from_frames(FRAMES)
    assert dict(links.households.rows()) == {"h1": "mum", "h2": "gran", "h3": "aunt"}


def test_a_guardian_or_parent_who_does_not_reside_is_passed_over() -> None:
    # the baby's mother has moved away (not among the residents): the father is told; the
    # grandchild's aunt has too, and no parent is named: the household's head is told
    moved = RESIDENTS.with_columns(
        pl.when(pl.col("person_id") == "baby")
        .then(pl.lit("gone"))
        .otherwise(pl.col("mother_id"))
        .alias("mother_id")
    ).filter(pl.col("person_id") != "aunt")
    pairs = match_units_frame({**FRAMES, "resident": moved}, [CHILDCARE], SCHEMA, as_of=ON)
    assert rows(pairs) == {
        ("baby", "resident", "childcare", Decimal("300.00"), "person", "dad"),
        ("grandkid", "resident", "childcare", Decimal("300.00"), "person", "gran"),
    }
