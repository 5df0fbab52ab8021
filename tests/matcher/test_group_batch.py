"""Batch matching of rules over groups: households whole per batch, firms' staff counted whole,
and the per-subject evaluator agreeing with the batch on the same linked population."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from matcher.batch import household_batches, match_frame, match_population
from profiles.derive import derive_record
from profiles.links import with_links
from profiles.schema import load_schema
from rules.evaluator import evaluate
from rules.groups import EMPLOYEES, HOUSEHOLD, MEMBERS
from rules.language import parse_rule

AS_OF = date(2026, 6, 30)
SCHEMA = load_schema()


@dataclass(frozen=True)
class P:
    id: str
    audience: str
    eligibility: str
    benefit: str | None = None
    valid_from: date | None = None
    valid_until: date | None = None


def _frame(rows: list[dict[str, Any]], entity: str) -> pl.LazyFrame:
    # every stored column, as scan_population conforms a file (absent fields unknown)
    return pl.DataFrame(rows, schema=SCHEMA.entity(entity).polars_schema()).lazy()


# Members of h1 and h2 interleave in the file; h3's income is partly unknown.
PEOPLE = [
    ("a", "h1", "head", date(1990, 1, 1), 3000.0, "北京市"),
    ("d", "h2", "head", date(1950, 3, 1), 1000.0, "北京市"),
    ("b", "h1", "spouse", date(1991, 1, 1), 300.0, "保定市"),
    ("e", "h2", "spouse", date(1952, 3, 1), 900.0, "北京市"),
    ("c", "h1", "child", date(2025, 1, 1), None, "北京市"),
    ("f", "h3", "head", date(1980, 1, 1), None, "北京市"),
    ("g", "h3", "child", date(2010, 1, 1), None, "北京市"),
    ("x", None, None, date(1970, 1, 1), 5000.0, "北京市"),
]


def population() -> dict[str, pl.LazyFrame]:
    residents = _frame(
        [
            {"person_id": p, "household_id": h, "relation_to_head": r, "birth_date": b,
             "monthly_income": m, "hukou_city": c}
            for p, h, r, b, m, c in PEOPLE
        ],
        "resident",
    )  # fmt: skip
    homes = _frame([{"household_id": h, "declared_assets": 1000.0} for h in ("h1", "h2", "h3")],
                   "household")  # fmt: skip
    firms = _frame([{"enterprise_id": e} for e in ("E1", "E2", "E3")], "enterprise")
    jobs = _frame(
        [
            {"person_id": "a", "enterprise_id": "E1", "hired_on": date(2026, 1, 1),
             "left_on": None, "unemployment_insurance_months": 5},
            {"person_id": "f", "enterprise_id": "E1", "hired_on": date(2026, 2, 1),
             "left_on": None, "unemployment_insurance_months": 4},
            {"person_id": "b", "enterprise_id": "E2", "hired_on": date(2020, 2, 1),
             "left_on": date(2026, 3, 1), "unemployment_insurance_months": 9},
            {"person_id": "x", "enterprise_id": "E2", "hired_on": date(2026, 5, 1),
             "left_on": None, "unemployment_insurance_months": None},
        ],
        "employment",
    )  # fmt: skip
    return {"resident": residents, "household": homes, "enterprise": firms, "employment": jobs}


POLICIES = [
    P("infant", "resident", 'household.members_count(age < 3 and hukou_city == "北京市") >= 1'),
    P("poor", "resident", "家庭.人均月收入 < 1200"),
    P("dibao", "household", "income_per_capita < 1450", "(1450 - income_per_capita) * size"),
    P("elderly-home", "household", "all_members(age >= 70)"),
    P(
        "hires",
        "enterprise",
        "employees_count(hired_on >= $today - 365 and unemployment_insurance_months >= 3) >= 2",
        "employees_count() * 100",
    ),
]


def pairs(batch_rows: int) -> dict[tuple[str, str], tuple[str, Any]]:
    out = pl.concat(
        list(match_population(population(), POLICIES, SCHEMA, as_of=AS_OF, batch_rows=batch_rows))
    )
    return {(r["policy_id"], r["subject_id"]): (r["status"], r["benefit"]) for r in out.to_dicts()}


def test_household_batches_never_split_a_household() -> None:
    frame = population()["resident"]
    batches = [b.collect() for b in household_batches(frame, 2)]
    seen: set[str] = set()
    for batch in batches:
        ids = set(batch["household_id"].drop_nulls())
        assert not ids & seen, "a household appears in two batches"
        seen |= ids
    assert sum(b.height for b in batches) == len(PEOPLE)


def test_results_do_not_depend_on_the_batch_size() -> None:
    assert pairs(1) == pairs(2) == pairs(100)


def test_group_rules_match_whole_households_and_firms() -> None:
    got = pairs(2)
    # h1 has a Beijing-hukou baby: all three members (interleaved with h2 in the file) match
    infant = {s: status for (p, s), (status, _) in got.items() if p == "infant"}
    assert infant == {"a": "eligible", "b": "eligible", "c": "eligible", "x": "maybe"}
    # h2: (1000 + 900) / 2 = 950 per head; h1: 3300 / 3 = 1100 (the baby earns 0 by rule)
    assert got[("dibao", "h2")] == ("eligible", 2 * (1450 - 950))
    assert got[("dibao", "h1")] == ("eligible", 3 * (1450 - 1100))
    # h3: the head's income is unknown, so is the household's: maybe, never false
    assert got[("dibao", "h3")][0] == "maybe"
    assert ("elderly-home", "h2") in got and ("elderly-home", "h1") not in got
    # E1's two recent insured hires count together though a and f fall in different batches;
    # E2's leaver is not staff, and its one other hire, whose insurance months are unknown,
    # cannot make two: false for certain, not maybe (the count lies between 0 and 1)
    assert got[("hires", "E1")] == ("eligible", 200)
    assert ("hires", "E2") not in got
    assert ("hires", "E3") not in got  # no employees: 0, false for certain
    # the resident without a household: household rules are unknown, not false
    assert got[("poor", "x")][0] == "maybe"


def _with_household(
    person: dict[str, Any], homes: dict[str, Any], residents: list[dict[str, Any]]
) -> dict[str, Any]:
    hid = person["household_id"]
    if hid is None:
        return person
    members = [m for m in residents if m["household_id"] == hid]
    return {**person, HOUSEHOLD: homes[hid], MEMBERS: members}


def test_the_per_subject_evaluator_agrees_with_the_batch() -> None:
    frames = with_links(population(), as_of=AS_OF)
    residents = [
        derive_record(r, SCHEMA.resident, as_of=AS_OF)
        for r in frames["resident"].collect().to_dicts()
    ]
    homes = {h["household_id"]: h for h in frames["household"].collect().to_dicts()}
    jobs = frames["employment"].collect().to_dicts()
    by_id = {r["person_id"]: r for r in residents}
    got = pairs(3)
    for policy in POLICIES:
        entity = SCHEMA.entity(policy.audience)
        rule = parse_rule(policy.eligibility, entity)
        if policy.audience == "resident":
            subjects = [(r["person_id"], _with_household(r, homes, residents)) for r in residents]
        elif policy.audience == "household":
            subjects = [
                (h, {**home, MEMBERS: [m for m in residents if m["household_id"] == h]})
                for h, home in homes.items()
            ]
        else:
            subjects = [
                (e, {"enterprise_id": e, EMPLOYEES: [{**by_id[j["person_id"]], **j}
                                                     for j in jobs if j["enterprise_id"] == e]})
                for e in ("E1", "E2", "E3")
            ]  # fmt: skip
        for subject_id, record in subjects:
            result = evaluate(rule, record, as_of=AS_OF)
            status = got.get((policy.id, subject_id), (None,))[0]
            expected = None if result is False else ("eligible" if result else "maybe")
            assert status == expected, (policy.id, subject_id, result)


def test_a_population_without_links_matches_as_today() -> None:
    flat = {"resident": population()["resident"].drop("household_id", "relation_to_head")}
    plain = [P("old", "resident", "age >= 70")]
    out = match_frame(flat, [*plain, POLICIES[0]], SCHEMA, as_of=AS_OF)
    assert set(out.filter(pl.col("policy_id") == "old")["subject_id"]) == {"d", "e"}
    # a household rule with no households anywhere is unknown for everyone, never false
    assert set(out.filter(pl.col("policy_id") == "infant")["status"]) == {"maybe"}


def test_shards_keep_households_whole_and_count_staff_whole(tmp_path: Path) -> None:
    from matcher.shards import plan_shards
    from matcher.shards._execute import run_shard
    from matcher.shards._values import RunPolicy, ShardRun

    files = {"resident": "residents", "household": "households", "enterprise": "enterprises",
             "employment": "employments"}  # fmt: skip
    for name, frame in population().items():
        frame.collect().write_parquet(tmp_path / f"{files[name]}.parquet")
    shards = plan_shards({"resident": len(PEOPLE), "household": 3, "enterprise": 3}, 2)
    run = ShardRun(
        run_key="k", as_of=AS_OF, population_dir=tmp_path, population="p", catalog_hash="c",
        policies=tuple(RunPolicy.of(p) for p in POLICIES), tags=False, shards=len(shards),
        status="running", run_id=None,
    )  # fmt: skip
    landed = pl.concat([run_shard(run, shard) for shard in shards])
    sharded = {
        (r["policy_id"], r["subject_id"]): (r["status"], r["benefit"]) for r in landed.to_dicts()
    }
    assert landed.height == len(sharded)  # no subject matched in two shards
    assert sharded == pairs(100)


def test_one_subjects_group_context_gives_the_batch_answer() -> None:
    from matcher.group_context import with_group_context

    frames = population()
    got = pairs(2)
    for policy in POLICIES:
        entity = SCHEMA.entity(policy.audience)
        rule = parse_rule(policy.eligibility, entity)
        assert entity.key is not None
        for raw in frames[policy.audience].collect().to_dicts():
            record = derive_record(raw, entity, as_of=AS_OF)
            record = with_group_context(record, entity, frames, as_of=AS_OF, schema=SCHEMA)
            result = evaluate(rule, record, as_of=AS_OF)
            status = got.get((policy.id, raw[entity.key]), (None,))[0]
            expected = None if result is False else ("eligible" if result else "maybe")
            assert status == expected, (policy.id, raw[entity.key], result)


def test_zhida_explain_reads_the_subjects_household(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from api.cli import main

    files = {"resident": "residents", "household": "households", "enterprise": "enterprises",
             "employment": "employments"}  # fmt: skip
    for name, frame in population().items():
        frame.collect().write_parquet(tmp_path / f"{files[name]}.parquet")
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "dibao.yaml").write_text(
        "id: test-dibao\ntitle: 低保\ndepartment: 民政局\naudience: resident\n"
        "mode: proactive_push\neligibility: 家庭.人均月收入 < 1200 and age >= 18\n"
        "valid_from: 2024-01-01\n",
        encoding="utf-8",
    )
    argv = ["explain", "--population", str(tmp_path), "--policies", str(catalog),
            "--policy", "test-dibao", "--subject", "a", "--as-of", AS_OF.isoformat()]  # fmt: skip
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    # a's household: 3,300 over three people is 1,100, as the batch has it
    assert out["status"] == "eligible"
    assert out["clauses"][0]["values"] == {"household.income_per_capita": 1100.0}
    assert out["group_words"] == {
        "recipient": ["家庭人均月收入 1,100 元（3 人合计 3,300 元）低于 1,200 元 ✓"],
        "other_members": ["家庭人均月收入低于 1,200 元 ✓"],
    }


def test_a_tag_read_in_a_members_condition_is_computed_for_the_batch() -> None:
    from matcher.needed_tags import tags_read

    policy = P("x", "resident", 'household.any_member("新生儿父母" in 标签) and age >= 18')
    assert tags_read([policy], SCHEMA) == {"new_parent"}


def test_a_members_income_sum_agrees_with_the_households_income() -> None:
    # the baby's unrecorded income is 0 by rule in both; h3's head's income is unknown
    policy = P("sum", "household", "members_sum(monthly_income) == income_total")
    out = match_frame(population(), [policy], SCHEMA, as_of=AS_OF)
    got = {r["subject_id"]: r["status"] for r in out.to_dicts()}
    assert got == {"h1": "eligible", "h2": "eligible", "h3": "maybe"}
