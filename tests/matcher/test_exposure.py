from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from matcher.exposure import exposure_by_group, top_k, topk_exposure
from profiles.schema import load_schema

SCHEMA = load_schema()


def _offers(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.choice(["x", "y", "z"], n)
    # Group z's offers gain less from a push: the uplift ranking tells them last.
    uplift = rng.random(n) * np.where(group == "z", 0.3, 1.0)
    return pl.DataFrame(
        {
            "subject_id": [f"s{i:05d}" for i in range(n)],
            "subject_type": "resident",
            "policy_id": "p",
            "g": group,
            "ranked": True,
            "uplift": uplift,
        }
    )


def test_exposure_is_the_share_of_the_top_k_over_the_share_of_the_offers() -> None:
    offers = top_k(_offers(3000, 1), top_share=0.2)
    assert int(offers["top"].sum()) == 600
    table = exposure_by_group(offers, ["g"])
    for row in table.iter_rows(named=True):
        mine = offers.filter(pl.col("g") == row["group"])
        share_offers = mine.height / offers.height
        share_top = int(mine["top"].sum()) / 600
        assert row["share_eligible"] == pytest.approx(share_offers, abs=1e-4)
        assert row["share_top"] == pytest.approx(share_top, abs=1e-4)
        assert row["exposure"] == pytest.approx(share_top / share_offers, abs=1e-3)
    by = {r["group"]: r for r in table.iter_rows(named=True)}
    assert by["z"]["flagged"] and by["z"]["exposure"] < 0.1
    assert not by["x"]["flagged"] and by["x"]["exposure"] > 1.2


def test_a_ranking_blind_to_the_group_gives_each_group_about_its_share() -> None:
    offers = _offers(6000, 2).with_columns(
        pl.Series("uplift", np.random.default_rng(3).random(6000))
    )
    table = exposure_by_group(top_k(offers, top_share=0.2), ["g"])
    assert table["exposure"].to_list() == pytest.approx([1.0, 1.0, 1.0], abs=0.12)
    assert not table["flagged"].any()


def test_grants_are_outside_the_ranked_set_and_never_take_a_top_k_place() -> None:
    offers = _offers(100, 4).with_columns(
        pl.when(pl.col("subject_id") < "s00010").then(False).otherwise(True).alias("ranked"),
        pl.when(pl.col("subject_id") < "s00010")
        .then(9.0)
        .otherwise(pl.col("uplift"))
        .alias("uplift"),
    )
    top = top_k(offers, top_share=0.1)
    assert top.height == 90 and top["ranked"].all()
    assert int(top["top"].sum()) == 9


def test_rules_only_offers_without_scores_are_taken_in_each_subjects_own_order() -> None:
    ranked = pl.DataFrame(
        {
            "subject_id": ["a", "a", "b", "b"],
            "policy_id": ["p", "q", "p", "q"],
            "status": ["eligible", "maybe", "maybe", "eligible"],
            "benefit": [10.0, 900.0, 50.0, 20.0],
            "score": [None, None, None, None],
            "uplift": [None, None, None, None],
            "rank": [1, 2, 2, 1],
            "ranked": [True] * 4,
        },
        schema_overrides={"score": pl.Float64, "uplift": pl.Float64, "rank": pl.UInt32},
    )
    top = top_k(ranked, top_share=0.5).filter(pl.col("top"))
    assert sorted(top.select("subject_id", "policy_id").rows()) == [("a", "p"), ("b", "q")]


def test_top_share_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="top_share must be in"):
        top_k(_offers(10, 5), top_share=0.0)


def test_topk_exposure_groups_people_by_the_fairness_dimensions() -> None:
    ids = [f"P{i:03d}" for i in range(200)]
    people = pl.LazyFrame(
        {"person_id": ids, "gender": ["male", "female"] * 100,
         "disability_grade": [0, 0, 0, 2] * 50},
        schema_overrides={f: SCHEMA.resident.field(f).polars_dtype
                          for f in ("gender", "disability_grade")},
    )  # fmt: skip
    # Men's offers come first: all 40 top-k places go to men.
    ranked = pl.DataFrame(
        {"subject_id": ids, "subject_type": "resident", "policy_id": "p", "ranked": True,
         "uplift": [1.0 - i / 1000 if i % 2 == 0 else 0.01 for i in range(200)]}
    )  # fmt: skip
    table = topk_exposure(ranked, people, SCHEMA.resident, as_of=date(2026, 6, 30))
    assert set(table["dimension"]) == {"gender", "disability"}  # the others are all unknown
    gender = {
        r["group"]: r for r in table.filter(pl.col("dimension") == "gender").iter_rows(named=True)
    }
    assert gender["male"]["share_top"] == 1.0 and gender["male"]["exposure"] == 2.0
    assert gender["female"]["top"] == 0 and gender["female"]["flagged"]
