from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from api.cli import main
from matcher.batch import linked_frames, match_population
from matcher.diff import catalog_changes
from matcher.needed_tags import tags_read
from matcher.population import attach_tags, scan_population
from profiles.derive import with_derived
from profiles.schema import load_schema
from rules.loader import Catalog, load_catalog
from rules.policy import Policy
from simulations.reach import ALL, group_columns, reachability, simulate_reach
from tests.populations import Populations

AS_OF = date(2026, 6, 30)
CATALOG = Path(__file__).resolve().parents[2] / "rules" / "catalog"
SCHEMA = load_schema()
NEW_POLICY = """\
id: test-unemployed-top-up
title: 失业人员临时补贴
department: 测试局
audience: resident
mode: proactive_push
eligibility: 'employment_status == "unemployed" and monthly_income < 2000'
benefit: '500'
benefit_period: month
valid_from: 2026-01-01
"""
# Whole years at the as-of date, as profiles.derive computes them, written independently.
AGE = (
    "(2026 - year(birth_date) - CASE WHEN month(birth_date) * 100 + day(birth_date) > 630 "
    "THEN 1 ELSE 0 END)"
)


@pytest.fixture(scope="module")
def population(populations: Populations) -> Path:
    return populations(6000, 300, seed=11, as_of=AS_OF)


@pytest.fixture(scope="module")
def reform(tmp_path_factory: pytest.TempPathFactory) -> Path:
    draft = tmp_path_factory.mktemp("reform") / "catalog"
    shutil.copytree(CATALOG, draft)
    allowance = draft / "bj-elderly-allowance.yaml"
    # from 75, and 100 a month from 75 (the allowance's age scale starts at 80)
    allowance.write_text(
        allowance.read_text()
        .replace("age >= 80", "age >= 75")
        .replace(
            "parameters.elderly_allowance[age]",
            "age >= 80 ? parameters.elderly_allowance[age] : 100",
        )
    )
    (draft / "test-unemployed-top-up.yaml").write_text(NEW_POLICY)
    (draft / "bj-winter-heating-subsidy.yaml").unlink()
    return draft


def _sql(population: Path, query: str) -> int | Decimal:
    con = duckdb.connect()
    con.execute(f"CREATE VIEW r AS SELECT * FROM read_parquet('{population}/residents.parquet')")
    value = con.execute(query).fetchone()
    assert value is not None
    return value[0]  # type: ignore[no-any-return]


def test_reach_equals_an_independent_sql_count(population: Path, reform: Path) -> None:
    reach = simulate_reach(
        population, load_catalog([CATALOG], SCHEMA), load_catalog([reform], SCHEMA), SCHEMA,
        as_of=AS_OF,
    )  # fmt: skip
    rows = {r["policy_id"]: r for r in reach.policies.iter_rows(named=True)}
    assert {c.policy_id: c.change for c in reach.changes} == {
        "bj-elderly-allowance": "changed",
        "test-unemployed-top-up": "added",
        "bj-winter-heating-subsidy": "removed",
    }
    beijing = "hukou_city = '北京市'"
    allowance = rows["bj-elderly-allowance"]
    assert allowance["eligible_before"] == _sql(
        population, f"SELECT count(*) FROM r WHERE {AGE} >= 80 AND {beijing}"
    )
    assert allowance["eligible_after"] == _sql(
        population, f"SELECT count(*) FROM r WHERE {AGE} >= 75 AND {beijing}"
    )
    assert allowance["newly_eligible"] == _sql(
        population, f"SELECT count(*) FROM r WHERE {AGE} BETWEEN 75 AND 79 AND {beijing}"
    )
    yearly = _sql(
        population,
        f"SELECT sum(12 * CASE WHEN {AGE} >= 100 THEN 800 WHEN {AGE} >= 90 THEN 500 ELSE 100 "
        f"END) FROM r WHERE {AGE} >= 75 AND {beijing}",
    )
    assert allowance["cost_year_after"] == Decimal(yearly)
    unreachable = _sql(
        population,
        f"SELECT count(*) FROM r WHERE {AGE} >= 75 AND {beijing} "
        "AND (phone IS NULL OR phone = '') AND (email IS NULL OR email = '')",
    )
    assert allowance["eligible_unreachable"] == unreachable
    top_up = rows["test-unemployed-top-up"]
    where = "employment_status = 'unemployed' AND monthly_income < 2000"
    assert top_up["eligible_after"] == _sql(population, f"SELECT count(*) FROM r WHERE {where}")
    # SQL's NULL logic is Kleene's: an unknown condition is NULL, a maybe.
    unknown = f"SELECT count(*) FROM r WHERE ({where}) IS NULL"
    assert top_up["maybe_after"] == _sql(population, unknown) > 0
    assert top_up["eligible_before"] == 0 and top_up["cost_year_before"] == 0
    assert rows["bj-winter-heating-subsidy"]["eligible_after"] == 0
    total = rows[ALL]
    changed = [r for pid, r in rows.items() if pid != ALL]
    assert total["eligible_after"] == sum(r["eligible_after"] for r in changed)
    assert total["cost_year_after"] == sum(r["cost_year_after"] for r in changed)


def test_groups_add_up_to_the_policy_where_the_group_is_known(
    population: Path, reform: Path
) -> None:
    reach = simulate_reach(
        population, load_catalog([CATALOG], SCHEMA), load_catalog([reform], SCHEMA), SCHEMA,
        as_of=AS_OF,
    )  # fmt: skip
    gender = reach.groups.filter(
        (pl.col("policy_id") == "bj-elderly-allowance") & (pl.col("dimension") == "gender")
    )
    known = _sql(
        population,
        f"SELECT count(*) FROM r WHERE {AGE} >= 75 AND hukou_city = '北京市' "
        "AND gender IS NOT NULL",
    )
    assert gender["eligible_after"].sum() == known
    women = _sql(
        population,
        f"SELECT count(*) FROM r WHERE {AGE} >= 75 AND hukou_city = '北京市' AND gender = 'female'",
    )
    assert gender.filter(pl.col("group") == "female")["eligible_after"].item() == women
    overlap = reach.overlap.filter(pl.col("policy_id") == "bj-elderly-allowance")
    card = overlap.filter(pl.col("other_policy") == "bj-elderly-card")
    assert card["share"].item() == 1.0  # everyone 75+ with a Beijing hukou is 60+ too


@pytest.mark.slow  # the whole command with its HTML report
def test_cli_prints_the_reach_and_writes_the_report(
    population: Path, reform: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reach"
    argv = ["simulate", "reach", "--population", str(population), "--baseline", str(CATALOG)]
    argv += ["--reform", str(reform), "--as-of", AS_OF.isoformat(), "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr()
    assert "test-unemployed-top-up" in printed.out and "newly_eligible" in printed.out
    assert printed.err == ""  # the progress bar is for a terminal only
    page = (out / "report.html").read_text()
    assert page.count("<svg") >= 5  # cost per policy and eligible by each dimension
    assert "bj-elderly-allowance" in page
    csv = pl.read_csv(out / "policies.csv")
    assert set(csv["policy_id"]) >= {"bj-elderly-allowance", ALL}


def test_a_reform_with_a_broken_rule_is_refused_with_its_position(
    population: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = tmp_path / "draft"
    shutil.copytree(CATALOG, draft)
    broken = draft / "bj-elderly-allowance.yaml"
    broken.write_text(broken.read_text().replace("age >= 80", "agee >= 80"))
    argv = ["simulate", "reach", "--population", str(population), "--baseline", str(CATALOG)]
    assert main([*argv, "--reform", str(draft), "--as-of", AS_OF.isoformat()]) == 1
    err = capsys.readouterr().err
    assert "bj-elderly-allowance.yaml:" in err and "did you mean 'age'" in err


# --- the one-pass path against a reference written from two plain match runs --------------


def _reference(
    population: Path, baseline: Catalog, reform: Catalog
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Per policy, by group and overlaps from ``match_population`` of each catalog and joins."""
    changed = {c.policy_id for c in catalog_changes(baseline, reform)}
    # with the links' aggregates, as a run reads them (household sizes for the groups)
    linked = linked_frames(scan_population(population, SCHEMA), as_of=AS_OF)
    frames = attach_tags(linked, population, SCHEMA, as_of=AS_OF)

    def pairs(catalog: Catalog, only: set[str] | None) -> pl.DataFrame:
        policies = [p for p in catalog.in_force(AS_OF) if only is None or p.id in only]
        empty = pl.DataFrame(
            schema={"subject_id": pl.String, "policy_id": pl.String, "status": pl.String,
                    "benefit": pl.Decimal(18, 2)}
        )  # fmt: skip
        found = match_population(frames, policies, SCHEMA, as_of=AS_OF)
        return pl.concat([*found, empty], how="diagonal_relaxed").select(
            "subject_id", "policy_id", pl.col("status").cast(pl.String), "benefit"
        )

    old, new_all = pairs(baseline, changed), pairs(reform, None)
    new = new_all.filter(pl.col("policy_id").is_in(list(changed)))
    # A household's benefit (unit: household) is one pair of the household, eligible if any
    # member is (else maybe), its benefit the largest eligible member's, told to its head:
    # counted once, with the people living in it ("n"); everyone else's pair counts one.
    homes = {p.id for p in (*baseline.policies, *reform.policies) if p.unit_kind == "household"}
    members = frames["resident"].select("person_id", "household_id", "relation_to_head").collect()
    heads = members.filter(pl.col("relation_to_head") == "head").select(
        "household_id", pl.col("person_id").alias("head")
    )
    sizes = members.group_by("household_id").agg(pl.len().alias("n"))

    def by_unit(found: pl.DataFrame) -> pl.DataFrame:
        mine = found.filter(pl.col("policy_id").is_in(list(homes)))
        rest = found.filter(~pl.col("policy_id").is_in(list(homes)))
        per_home = (
            mine.join(members, left_on="subject_id", right_on="person_id")
            .group_by("household_id", "policy_id")
            .agg(
                pl.when((pl.col("status") == "eligible").any())
                .then(pl.lit("eligible"))
                .otherwise(pl.lit("maybe"))
                .alias("status"),
                pl.col("benefit").filter(pl.col("status") == "eligible").max(),
            )
            .join(heads, on="household_id")
            .join(sizes, on="household_id")
            .select(
                pl.col("head").alias("subject_id"),
                "policy_id",
                "status",
                "benefit",
                "n",
                pl.lit(1).alias("h"),
            )
        )
        ones = rest.with_columns(pl.lit(1, pl.UInt32).alias("n"), pl.lit(0).alias("h"))
        return pl.concat([ones, per_home], how="diagonal_relaxed")

    old, new = by_unit(old), by_unit(new)
    people = pl.concat(
        [
            with_derived(frame, SCHEMA.entity(name), as_of=AS_OF)
            .select(
                pl.col(SCHEMA.entity(name).key or "").alias("subject_id"),
                reachability(frame, name, None).fill_null(False).alias("reachable"),
                *(e.cast(pl.String).alias(k) for k, e in group_columns(name).items()),
            )
            .collect()
            for name, frame in frames.items()
            if name in ("resident", "enterprise")  # not the links beside them
        ],
        how="diagonal_relaxed",
    )
    year = {"month": 12, "year": 1, "once": 1}
    per_year_old = {p.id: year.get(p.benefit_period or "", 0) for p in baseline.policies}
    per_year_new = {p.id: year.get(p.benefit_period or "", 0) for p in reform.policies}
    both = (
        old.rename({"status": "s_old", "benefit": "b_old", "n": "n_old", "h": "h_old"})
        .join(new.rename({"status": "s_new", "benefit": "b_new", "n": "n_new", "h": "h_new"}),
              on=["subject_id", "policy_id"], how="full", coalesce=True)
        .join(people, on="subject_id", how="left")
        .with_columns(pl.coalesce("n_old", "n_new").alias("n"))
    )  # fmt: skip
    was, now = pl.col("s_old") == "eligible", pl.col("s_new") == "eligible"
    n = pl.col("n")
    cost_old = pl.when(was).then(pl.col("b_old")).cast(pl.Decimal(20, 2))
    cost_new = pl.when(now).then(pl.col("b_new")).cast(pl.Decimal(20, 2))
    yr_old = pl.col("policy_id").replace_strict(per_year_old, default=0, return_dtype=pl.Int64)
    yr_new = pl.col("policy_id").replace_strict(per_year_new, default=0, return_dtype=pl.Int64)

    def people_where(condition: pl.Expr) -> pl.Expr:
        return pl.when(condition.fill_null(False)).then(n).otherwise(0).sum()

    measures = [
        people_where(was).alias("eligible_before"),
        people_where(now).alias("eligible_after"),
        people_where(pl.col("s_old") == "maybe").alias("maybe_before"),
        people_where(pl.col("s_new") == "maybe").alias("maybe_after"),
        people_where(now.fill_null(False) & ~was.fill_null(False)).alias("newly_eligible"),
        people_where(was.fill_null(False) & ~now.fill_null(False)).alias("no_longer_eligible"),
        cost_old.sum().alias("cost_period_before"),
        cost_new.sum().alias("cost_period_after"),
        (cost_old * yr_old).sum().alias("cost_year_before"),
        (cost_new * yr_new).sum().alias("cost_year_after"),
        people_where(now & ~pl.col("reachable")).alias("eligible_unreachable"),
    ]
    per_policy = both.group_by("policy_id").agg(measures)
    by_group = pl.concat(
        [
            both.group_by("policy_id", pl.col(d).alias("group"))
            .agg(measures)
            .drop_nulls("group")
            .with_columns(pl.lit(d).alias("dimension"))
            for d in dict.fromkeys(d for e in frames for d in group_columns(e))
        ],
        how="diagonal_relaxed",
    )
    eligible = new_all.filter(pl.col("status") == "eligible")
    overlap = (
        eligible.filter(pl.col("policy_id").is_in(list(changed)))
        .join(eligible, on="subject_id", suffix="_other")
        .filter(pl.col("policy_id") != pl.col("policy_id_other"))
        .group_by("policy_id", pl.col("policy_id_other").alias("other_policy"))
        .agg(pl.len().alias("shared"))
    )
    return per_policy, by_group, overlap


def _reform_of_every_kind(tmp: Path) -> Path:
    """Every kind of change: thresholds, benefit only, period, tags rule, firms, added, removed."""
    draft = tmp / "every-kind"
    shutil.copytree(CATALOG, draft)

    def edit(name: str, old: str, new: str) -> None:
        path = draft / f"{name}.yaml"
        text = path.read_text()
        assert old in text, (name, old)
        path.write_text(text.replace(old, new, 1))

    edit("bj-elderly-allowance", "age >= 80", "age >= 75")
    edit("bj-elderly-allowance", "benefit_period: month", "benefit_period: year")
    edit(
        "bj-maternity-allowance",
        '"new_parent" in tags',
        '("new_parent" in tags or children_under_3 >= 2)',
    )
    (draft / "test-unemployed-top-up.yaml").write_text(NEW_POLICY)
    # Two added policies sharing one benefit formula (computed once per batch for both).
    for n, age in enumerate((70, 85)):
        (draft / f"test-shared-{n}.yaml").write_text(
            NEW_POLICY.replace("test-unemployed-top-up", f"test-shared-{n}")
            .replace('\'employment_status == "unemployed" and monthly_income < 2000\'',
                     f"age >= {age}")
            .replace("'500'", "'household_size * 10 + age'")
        )  # fmt: skip
    (draft / "bj-winter-heating-subsidy.yaml").unlink()
    firm = next(p for p in sorted(draft.glob("*.yaml")) if "audience: enterprise" in p.read_text()
                and "benefit:" in p.read_text())  # fmt: skip
    text = firm.read_text()
    benefit = next(line for line in text.splitlines() if line.startswith("benefit:"))
    firm.write_text(text.replace(benefit, "benefit: '1234.5'"))
    return draft


def test_the_one_pass_equals_two_match_runs_joined(population: Path, tmp_path: Path) -> None:
    baseline = load_catalog([CATALOG], SCHEMA)
    reform = load_catalog([_reform_of_every_kind(tmp_path)], SCHEMA)
    kinds = {c.change for c in catalog_changes(baseline, reform)}
    assert kinds == {"added", "removed", "changed"}
    per_policy, by_group, overlap = _reference(population, baseline, reform)
    # Small batches: the sums of many batches must add up like one.
    for rows in (1_000_000, 700):
        reach = simulate_reach(population, baseline, reform, SCHEMA, as_of=AS_OF, batch_rows=rows)
        got = reach.policies.filter(pl.col("policy_id") != ALL)
        want = got.select("policy_id").join(per_policy, on="policy_id", how="left")
        columns = [c for c in per_policy.columns if c != "policy_id"]
        assert_frame_equal(
            got.select("policy_id", *columns).sort("policy_id"),
            want.select("policy_id", *columns)
            .sort("policy_id")
            .with_columns(pl.col(pl.Decimal).fill_null(0).cast(pl.Decimal(20, 2))),
            check_dtypes=False,
        )
        groups = reach.groups.filter(pl.col("policy_id") != ALL)
        assert_frame_equal(
            groups.select("dimension", "policy_id", "group", *columns)
            .sort("dimension", "policy_id", "group"),
            by_group.select("dimension", "policy_id", "group", *columns)
            .with_columns(pl.col(pl.Decimal).fill_null(0).cast(pl.Decimal(20, 2)))
            .sort("dimension", "policy_id", "group"),
            check_dtypes=False,
        )  # fmt: skip
        assert_frame_equal(
            reach.overlap.select("policy_id", "other_policy", "shared").sort(pl.all()),
            overlap.sort(pl.all()),
            check_dtypes=False,
        )
    allowance = reach.policies.filter(pl.col("policy_id") == "bj-elderly-allowance").row(
        0, named=True
    )
    # Each side's cost per year at its own period: 12 monthly payments before, one after.
    assert allowance["cost_year_before"] == 12 * allowance["cost_period_before"] > 0
    assert allowance["cost_year_after"] == allowance["cost_period_after"] > 0


def test_a_reform_changing_only_a_benefit_keeps_reach_and_changes_cost(
    population: Path, tmp_path: Path
) -> None:
    draft = tmp_path / "benefit"
    shutil.copytree(CATALOG, draft)
    path = draft / "bj-elderly-allowance.yaml"
    path.write_text(
        path.read_text().replace(
            "parameters.elderly_allowance[age]",
            "age >= 100 ? 900 : parameters.elderly_allowance[age]",
        )
    )
    reach = simulate_reach(
        population, load_catalog([CATALOG], SCHEMA), load_catalog([draft], SCHEMA), SCHEMA,
        as_of=AS_OF,
    )  # fmt: skip
    row = reach.policies.filter(pl.col("policy_id") == "bj-elderly-allowance").row(0, named=True)
    assert row["eligible_before"] == row["eligible_after"] > 0
    assert row["newly_eligible"] == row["no_longer_eligible"] == 0
    centenarians = _sql(
        population, f"SELECT count(*) FROM r WHERE {AGE} >= 100 AND hukou_city = '北京市'"
    )
    assert row["cost_year_delta"] == 12 * 100 * centenarians


def test_groups_and_overlaps_equal_sql_group_bys(population: Path, reform: Path) -> None:
    reach = simulate_reach(
        population, load_catalog([CATALOG], SCHEMA), load_catalog([reform], SCHEMA), SCHEMA,
        as_of=AS_OF,
    )  # fmt: skip
    where = f"{AGE} >= 75 AND hukou_city = '北京市'"
    con = duckdb.connect()
    con.execute(f"CREATE VIEW r AS SELECT * FROM read_parquet('{population}/residents.parquet')")
    by_district = dict(
        con.execute(
            f"SELECT residence_district, count(*) FROM r WHERE {where} "
            "AND residence_district IS NOT NULL GROUP BY 1"
        ).fetchall()
    )
    got = reach.groups.filter(
        (pl.col("policy_id") == "bj-elderly-allowance") & (pl.col("dimension") == "district")
    )
    assert dict(zip(got["group"], got["eligible_after"], strict=True)) == by_district
    cost = dict(
        con.execute(
            f"SELECT CASE WHEN {AGE} < 80 THEN '60-79' ELSE '80+' END, sum(12 * CASE WHEN "
            f"{AGE} >= 100 THEN 800 WHEN {AGE} >= 90 THEN 500 ELSE 100 END) FROM r "
            f"WHERE {where} GROUP BY 1"
        ).fetchall()
    )
    ages = reach.groups.filter(
        (pl.col("policy_id") == "bj-elderly-allowance") & (pl.col("dimension") == "age_band")
    )
    assert {g: Decimal(c) for g, c in zip(ages["group"], ages["cost_year_after"], strict=True)
            if c} == {g: Decimal(c) for g, c in cost.items()}  # fmt: skip
    # The top-up's eligible who are also eligible for the 4050 employment assistance, by SQL
    # (fields of the residents' own file: a household's income per capita is its members' now).
    pair = reach.overlap.filter(
        (pl.col("policy_id") == "test-unemployed-top-up")
        & (pl.col("other_policy") == "bj-employment-assistance-4050")
    ).row(0, named=True)
    top_up = "employment_status = 'unemployed' AND monthly_income < 2000"
    assistance = f"hukou_city = '北京市' AND ((gender = 'female' AND {AGE} >= 40) OR {AGE} >= 50)"
    assert pair["eligible"] == _sql(population, f"SELECT count(*) FROM r WHERE {top_up}")
    assert pair["shared"] == _sql(
        population, f"SELECT count(*) FROM r WHERE {top_up} AND {assistance}"
    )
    assert pair["shared"] > 0


@pytest.mark.parametrize(
    ("rule", "read"),
    [
        ('"new_parent" in tags and age < 40', {"new_parent"}),
        ('"new_parent" in 标签 or not ("newly_married" in tags)', {"new_parent", "newly_married"}),
        ("age >= 80", set()),
        ('"tags" in ["tags"]', set()),  # a string that looks like the field reads no tag
        ("residence_district in tags", None),  # any tag could be read: all are computed
    ],
)
def test_the_tags_a_rule_reads(rule: str, read: set[str] | None) -> None:
    policy = Policy(id="p", title="t", department="d", audience="resident",
                    mode="auto_grant", eligibility=rule, valid_from=date(2026, 1, 1))  # fmt: skip
    assert tags_read([policy], SCHEMA) == read


@pytest.mark.slow  # runs the whole command twice, drawing its charts once
def test_the_report_has_a_png_per_chart_unless_told_not_to(
    population: Path, reform: Path, tmp_path: Path
) -> None:
    from matplotlib.image import imread

    argv = ["simulate", "reach", "--population", str(population), "--baseline", str(CATALOG)]
    argv += ["--reform", str(reform), "--as-of", AS_OF.isoformat(), "--no-contacts"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    pngs = sorted(p.name for p in (tmp_path / "a").glob("*.png"))
    # The reform changes resident policies only: the residents' five dimensions.
    assert pngs == [
        "cost_per_year.png", "eligible_by_age_band.png", "eligible_by_district.png",
        "eligible_by_gender.png", "eligible_by_household_type.png", "eligible_by_hukou.png",
    ]  # fmt: skip
    pixels = imread(tmp_path / "a" / "eligible_by_district.png")
    assert pixels.shape[1] > 600 and (pixels[..., :3] < 0.5).any()  # drawn, not blank
    assert main([*argv, "--out", str(tmp_path / "b"), "--no-png"]) == 0
    assert not list((tmp_path / "b").glob("*.png"))
    assert (tmp_path / "b" / "report.html").is_file()


def test_a_report_that_cannot_be_written_is_a_one_line_error(
    population: Path, reform: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("")
    argv = ["simulate", "reach", "--population", str(population), "--baseline", str(CATALOG)]
    argv += ["--reform", str(reform), "--as-of", AS_OF.isoformat(), "--no-contacts"]
    assert main([*argv, "--out", str(tmp_path / "a-file" / "report")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("zhida: error: cannot write the report into") and "\n" not in err
    assert "--out" in err


def test_progress_counts_the_batches_and_leaves_the_figures_unchanged(
    population: Path, reform: Path
) -> None:
    baseline, after = load_catalog([CATALOG], SCHEMA), load_catalog([reform], SCHEMA)
    calls: list[tuple[int, int]] = []
    told = simulate_reach(population, baseline, after, SCHEMA, as_of=AS_OF, batch_rows=2_000,
                          progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    quiet = simulate_reach(population, baseline, after, SCHEMA, as_of=AS_OF, batch_rows=2_000)
    # Only residents' policies change: 6,000 residents in 3 batches; the firms are not read.
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)]
    for name in ("policies", "groups", "overlap"):
        assert_frame_equal(getattr(told, name), getattr(quiet, name))


def test_a_household_benefit_is_counted_once_per_household_with_its_people(
    population: Path,
) -> None:
    from rules.parameters import builtin_library

    catalog = load_catalog([CATALOG], SCHEMA)
    reformed = builtin_library().with_override("dibao_standard=1500", on=AS_OF)
    reach = simulate_reach(
        population, catalog, catalog, SCHEMA, as_of=AS_OF,
        parameters=(builtin_library(), reformed),
    )  # fmt: skip
    dibao = reach.policies.filter(pl.col("policy_id") == "bj-dibao-invitation").row(0, named=True)
    # the people of the households the standard reaches, each household's benefit once
    linked = linked_frames(scan_population(population, SCHEMA), as_of=AS_OF)
    homes = (
        with_derived(linked["resident"], SCHEMA.resident, as_of=AS_OF)
        .filter(
            (pl.col("hukou_city") == "北京市")
            & (pl.col("household_income_per_capita") < 1500)
            & (pl.col("subsistence_status") == "none")
        )
        .group_by("household_id")
        .agg(
            ((1500 - pl.col("household_income_per_capita")) * pl.col("household_size"))
            .max()
            .alias("benefit")
        )
        .collect()
    )
    people = linked["resident"].join(homes.lazy(), on="household_id", how="semi")
    assert dibao["eligible_after"] == people.select(pl.len()).collect().item() > homes.height
    assert float(dibao["cost_period_after"]) == pytest.approx(
        homes["benefit"].sum(), abs=0.01 * homes.height
    )
    scaled = reach.beijing
    assert scaled is not None
    rows = dict(
        scaled.filter(pl.col("policy_id") == "bj-dibao-invitation")
        .select("measure", "sample")
        .rows()
    )
    assert rows["households_eligible_after"] == homes.height
    assert rows["households_newly_eligible"] > 0
    # a person's benefit has no household rows
    assert "households_eligible_after" not in set(
        scaled.filter(pl.col("policy_id") == "bj-tekun-support")["measure"]
    )
