from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from matcher.batch import MATCH_SCHEMA, match_frame, match_population, write_pairs
from matcher.pairs_file import OutputError
from profiles.schema import load_schema
from rules.policy import Policy

SCHEMA = load_schema()
ON = date(2026, 6, 30)


def policy(pid: str, eligibility: str, benefit: str | None = None, **kw: object) -> Policy:
    return Policy(
        id=pid,
        title=pid,
        department="d",
        audience=kw.pop("audience", "resident"),  # type: ignore[arg-type]
        mode="auto_grant",
        eligibility=eligibility,
        benefit=benefit,
        benefit_period="month" if benefit else None,
        valid_from=kw.pop("valid_from", date(2020, 1, 1)),  # type: ignore[arg-type]
        valid_until=kw.pop("valid_until", None),  # type: ignore[arg-type]
    )


RESIDENTS = pl.LazyFrame(
    {
        "person_id": ["a", "b", "c"],
        "birth_date": [date(1940, 1, 1), date(1990, 1, 1), None],
        "hukou_city": ["北京市", "北京市", "北京市"],
    }
)


def test_pairs_are_eligible_or_maybe_and_false_gives_no_row() -> None:
    pairs = match_frame(
        {"resident": RESIDENTS},
        [policy("old", "age >= 80", "age >= 90 ? 500 : 100")],
        SCHEMA,
        as_of=ON,
    )
    assert pairs.sort("subject_id").rows() == [
        ("a", "resident", "old", "eligible", Decimal("100.00")),
        ("c", "resident", "old", "maybe", None),
    ]


def test_missing_columns_are_unknown_and_policies_out_of_force_are_skipped() -> None:
    policies = [
        policy("income", "monthly_income < 3000"),
        policy("expired", "age >= 0", valid_until=date(2021, 1, 1)),
        policy("firm", "employees >= 0", audience="enterprise"),
    ]
    pairs = match_frame({"resident": RESIDENTS}, policies, SCHEMA, as_of=ON)
    assert set(pairs["policy_id"]) == {"income"}
    assert set(pairs["status"]) == {"maybe"}


def test_batches_give_the_same_pairs_as_one_pass() -> None:
    policies = [policy(f"p{i}", f'age >= {60 + i} and hukou_city == "北京市"') for i in range(5)]
    frames = {"resident": RESIDENTS}
    small = list(match_population(frames, policies, SCHEMA, as_of=ON, batch_rows=1))
    whole = match_frame(frames, policies, SCHEMA, as_of=ON)
    assert len(small) == 2  # subjects a and c have pairs; b has none
    assert pl.concat(small).sort(pl.all()).equals(whole.sort(pl.all()))
    counts = whole["status"].value_counts().sort("status").rows()
    assert counts == [("eligible", 5), ("maybe", 5)]  # a: all five; c: unknown age


def test_all_policies_of_a_batch_are_one_query_sharing_sub_expressions() -> None:
    from matcher.batch import plan_policies
    from profiles.derive import with_derived

    policies = [policy(f"p{i}", f'age >= {60 + i} and hukou_city == "北京市"') for i in range(5)]
    plans = plan_policies(policies, SCHEMA, as_of=ON)
    query = with_derived(RESIDENTS, SCHEMA.resident, as_of=ON).with_columns(
        p.eligible.alias(p.policy_id) for p in plans
    )
    assert "__POLARS_CSER" in query.explain()


def test_a_tagger_gives_each_batch_its_own_tags() -> None:
    from profiles.schema import Entity

    seen: list[int] = []

    def tagger(batch: pl.DataFrame, entity: Entity) -> pl.DataFrame:
        seen.append(batch.height)
        return batch.with_columns(pl.lit(["new_parent"], pl.List(pl.String)).alias("tags"))

    policies = [policy("p", '"new_parent" in tags')]
    frames = {"resident": RESIDENTS}
    pairs = list(match_population(frames, policies, SCHEMA, as_of=ON, batch_rows=2, tagger=tagger))
    assert seen == [2, 1]  # every batch tagged, none twice
    assert pl.concat(pairs)["subject_id"].sort().to_list() == ["a", "b", "c"]


def test_only_the_columns_the_rules_name_are_read() -> None:
    # A column no rule names is never computed: were it read, its failing cast would raise.
    unread = RESIDENTS.with_columns(pl.col("hukou_city").cast(pl.Int64).alias("name"))
    pairs = match_frame({"resident": unread}, [policy("old", "age >= 80", "100")], SCHEMA, as_of=ON)
    assert pairs.select("subject_id", "status").rows() == [("a", "eligible"), ("c", "maybe")]


def test_an_error_computing_the_pairs_is_raised_as_it_is_and_leaves_no_file(
    tmp_path: Path,
) -> None:
    def batches() -> Iterator[pl.DataFrame]:
        yield MATCH_SCHEMA.to_frame()
        raise pl.exceptions.ComputeError("parquet: File out of specification")

    out = tmp_path / "m.parquet"
    with pytest.raises(pl.exceptions.ComputeError, match="out of specification"):
        write_pairs(batches(), out)
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_cannot_be_written_is_an_output_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="cannot write") as info:
        write_pairs([MATCH_SCHEMA.to_frame()], tmp_path / "file" / "m.parquet")
    assert info.value.exit_code == 2
