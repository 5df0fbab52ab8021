"""Rules over groups: the compiled group-by, the per-subject evaluator and the independent
reference agree on generated households (members with unknowns) and firms' employments."""

from __future__ import annotations

import os
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from profiles.schema import load_schema
from rules.compiler import compile_groups, compile_rule
from rules.errors import RuleTypeError
from rules.evaluator import evaluate, evaluate_benefit
from rules.explainer import explain
from rules.group_frames import aggregate, attach, bound_columns, employee_rows, with_figure_bounds
from rules.groups import EMPLOYEES, HOUSEHOLD, MEMBERS
from rules.language import Rule, parse_rule
from tests.rules.reference import U, reference, reference_money
from tests.rules.test_properties import _maybe, condition, numeric, profiles

TODAY = date(2026, 6, 30)
SCHEMA = load_schema()
RESIDENT_SCHEMA = SCHEMA.resident.polars_schema(include_derived=True)
HOUSING = SCHEMA.entity("household").field("housing").values
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
EXAMPLES = 600 if CI else 120
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CMP = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
FIGURES = ("income_total", "income_per_capita")  # a household's, bounded by its known incomes


def group_atom(p: str, member_condition: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """An aggregate over members compared with a number; ``p`` the prefix (household.)."""
    small = st.integers(0, 4)
    amount = st.integers(-10, 30000)
    return st.one_of(
        st.builds(lambda c, o, n: f"{p}members_count({c}) {o} {n}", member_condition, CMP, small),
        st.builds(lambda o, n: f"{p}members_count() {o} {n}", CMP, small),
        st.builds(lambda v, c, o, n: f"{p}members_sum({v}, {c}) {o} {n}",
                  numeric(1), member_condition, CMP, amount),
        st.builds(lambda f, v, o, n: f"{p}{f}({v}) {o} {n}",
                  st.sampled_from(["members_min", "members_max"]), numeric(0), CMP, amount),
        st.builds(lambda c: f"{p}any_member({c})", member_condition),
        st.builds(lambda c: f"{p}all_members({c})", member_condition),
        st.builds(lambda c, o, n: f"{p}members_sum(monthly_income, {c}) {o} {n}",
                  member_condition, CMP, amount),
        st.builds(lambda f, o, n: f"{p}{f} {o} {n}", st.sampled_from(FIGURES), CMP, amount),
        # a resident's own copy of its household's figure (profiles.links)
        st.builds(lambda o, n: f"household_income_per_capita {o} {n}" if p
                  else f"income_per_capita {o} {n}", CMP, amount),
        st.builds(lambda o, n: f"{p}declared_assets {o} {n}", CMP, amount),
        st.builds(lambda v: f'{p}housing == "{v}"', st.sampled_from(HOUSING)),
    )  # fmt: skip


def combined(atom: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        atom,
        st.builds(lambda a, o, b: f"({a} {o} {b})", atom, st.sampled_from(["and", "or"]), atom),
        st.builds(lambda a: f"not ({a})", atom),
    )


households = st.fixed_dictionaries(
    {
        "declared_assets": _maybe(st.integers(0, 500000).map(float)),
        "housing": _maybe(st.sampled_from(HOUSING)),
        "members": st.lists(profiles, min_size=0, max_size=4),
    }
)


def _parsed(text: str, entity: Any, kind: Any) -> Rule:
    try:
        return parse_rule(text, entity, kind=kind)
    except RuleTypeError as exc:
        if "cannot be computed" in exc.detail:  # e.g. (0 / 0): refused when parsed
            reject()
        raise


def _frames(homes: list[dict[str, Any]]) -> tuple[pl.LazyFrame, pl.LazyFrame, list[dict[str, Any]]]:
    """The households frame, the members frame, and each member's record with its groups."""
    members: list[dict[str, Any]] = []
    records = []
    for i, home in enumerate(homes):
        hid = f"H{i}"
        rows = [
            {"person_id": f"{hid}-{j}", "household_id": hid, **m}
            for j, m in enumerate(home["members"])
        ]
        members.extend(rows)
        fields = {
            "household_id": hid,
            "declared_assets": home["declared_assets"],
            "housing": home["housing"],
            **_figures(rows),
        }
        records.append({**fields, MEMBERS: rows})
    columns = {k: RESIDENT_SCHEMA[k] for k in ["person_id", "household_id", *profiles_keys()]}
    member_frame = pl.DataFrame(members, schema=columns).lazy()
    household_schema = SCHEMA.entity("household").polars_schema()
    kept = ("household_id", "declared_assets", "housing", *FIGURE_COLUMNS)
    home_frame = pl.DataFrame(
        [{k: r[k] for k in kept} for r in records],
        schema={k: household_schema.get(k, pl.Float64) for k in kept},
    ).lazy()
    return home_frame, member_frame, records


FIGURE_COLUMNS = tuple(f"{f}{side}" for f in FIGURES for side in ("", ":least", ":greatest"))


def _figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A household's income total and per capita with their bounds, spelled out: a member
    under 16 with none recorded earns 0; an unknown income is at least 0 (monthly_income's
    min) and has no most; the figure itself is unknown when any income is."""
    incomes = [
        0.0 if r["monthly_income"] is None and r["age"] is not None and r["age"] < 16
        else r["monthly_income"]
        for r in rows
    ]  # fmt: skip
    if not rows:
        return dict.fromkeys(FIGURE_COLUMNS)
    least = sum(i or 0.0 for i in incomes)
    known = None not in incomes
    total = least if known else None
    n = len(rows)
    return {
        "income_total": total, "income_total:least": least, "income_total:greatest": total,
        "income_per_capita": None if total is None else total / n,
        "income_per_capita:least": least / n,
        "income_per_capita:greatest": None if total is None else total / n,
    }  # fmt: skip


def profiles_keys() -> list[str]:
    return ["age", "monthly_income", "household_size", "disability_grade", "employment_status",
            "tags", "is_veteran", "birth_date", "hukou_city"]  # fmt: skip


def _ref_bool(value: Any) -> bool | None:
    return None if isinstance(value, str) and value == U else bool(value)


def _compiled(
    rule: Rule,
    subjects: pl.LazyFrame,
    rows: pl.LazyFrame,
    key: str,
    subject: str = "",
    homes: pl.LazyFrame | None = None,
) -> list[Any]:
    """The compiled rule's values in the order of ``subject`` (default ``key``): a join need
    not keep row order, so each value is read beside its subject's id, as matching does."""
    aggs = compile_groups(rule, as_of=TODAY)
    grouped = aggregate(rows, key, aggs) if aggs else None
    framed = attach(subjects, grouped, key, aggs)
    compiled = compile_rule(rule, as_of=TODAY, bounds=True)
    if homes is not None:
        framed = with_figure_bounds(framed, homes, bound_columns([compiled]))
    out = framed.select(pl.col(subject or key), compiled.alias("out"))
    return out.collect().sort(subject or key)["out"].to_list()


@SETTINGS
@given(
    text=combined(group_atom("", condition(1))), homes=st.lists(households, min_size=1, max_size=4)
)
def test_household_rules_agree(text: str, homes: list[dict[str, Any]]) -> None:
    rule = _parsed(text, SCHEMA.entity("household"), "eligibility")
    home_frame, member_frame, records = _frames(homes)
    compiled = _compiled(rule, home_frame, member_frame, "household_id")
    for record, got in zip(records, compiled, strict=True):
        expected = _ref_bool(reference(rule.text, record, TODAY))
        assert got == expected, (text, record)
        assert evaluate(rule, record, as_of=TODAY) == expected, (text, record)
        assert explain(rule, record, as_of=TODAY).result == expected, (text, record)


@SETTINGS
@given(
    text=combined(group_atom("household.", condition(0))),
    homes=st.lists(households, min_size=1, max_size=3),
)
def test_resident_rules_over_their_household_agree(text: str, homes: list[dict[str, Any]]) -> None:
    rule = _parsed(text, SCHEMA.resident, "eligibility")
    home_frame, member_frame, records = _frames(homes)
    read = ("declared_assets", "housing", *FIGURES)
    fields = home_frame.select(
        "household_id",
        *(pl.col(c).alias(f"household.{c}") for c in read),
        pl.col("income_per_capita").alias("household_income_per_capita"),
    )
    subjects = member_frame.join(fields, on="household_id", how="left", maintain_order="left")
    compiled = _compiled(rule, subjects, member_frame, "household_id", "person_id", home_frame)
    people = [
        {**m, "household_income_per_capita": r["income_per_capita"],
         HOUSEHOLD: {k: v for k, v in r.items() if k != MEMBERS}, MEMBERS: r[MEMBERS]}
        for r in records
        for m in r[MEMBERS]
    ]  # fmt: skip
    assert len(people) == len(compiled)
    for person, got in zip(people, compiled, strict=True):
        expected = _ref_bool(reference(rule.text, person, TODAY))
        assert got == expected, (text, person)
        assert evaluate(rule, person, as_of=TODAY) == expected, (text, person)


@SETTINGS
@given(
    value=numeric(1),
    cond=condition(0),
    homes=st.lists(households, min_size=1, max_size=3),
)
def test_household_benefits_agree_to_the_fen(
    value: str, cond: str, homes: list[dict[str, Any]]
) -> None:
    rule = _parsed(f"members_sum({value}, {cond}) / 3 + members_count({cond})",
                      SCHEMA.entity("household"), kind="benefit")  # fmt: skip
    home_frame, member_frame, records = _frames(homes)
    compiled = _compiled(rule, home_frame, member_frame, "household_id")
    for record, got in zip(records, compiled, strict=True):
        expected = reference_money(rule.text, record, TODAY)
        expected = None if isinstance(expected, str) else expected
        assert got == expected, (rule.text, record)
        assert evaluate_benefit(rule, record, as_of=TODAY) == expected
        if expected is not None:
            assert isinstance(got, Decimal)


def _day(offset: int | None) -> date | None:
    return None if offset is None else TODAY + timedelta(days=offset)


employments = st.fixed_dictionaries(
    {
        "hired_on": _maybe(st.integers(-800, 30)),
        "left_on": _maybe(st.integers(-30, 400)),
        "contract_months": _maybe(st.integers(0, 36)),
        "unemployment_insurance_months": _maybe(st.integers(0, 12)),
        "person": profiles,
    }
)
employee_condition = st.one_of(
    condition(0),
    st.builds(lambda n: f"contract_months >= {n}", st.integers(0, 24)),
    st.builds(lambda n: f"unemployment_insurance_months >= {n}", st.integers(0, 6)),
    st.builds(lambda n: f"hired_on >= $today - {n}", st.integers(0, 730)),
    st.builds(lambda a, b: f"({a} and {b})", condition(0), st.just("age <= 24")),
)
employee_atom = st.one_of(
    st.builds(lambda c, o, n: f"employees_count({c}) {o} {n}", employee_condition, CMP,
              st.integers(0, 3)),
    st.builds(lambda c: f"any_employee({c})", employee_condition),
    st.builds(lambda c: f"all_employees({c})", employee_condition),
    st.builds(lambda c, o, n: f"employees_sum(contract_months, {c}) {o} {n}", employee_condition,
              CMP, st.integers(0, 60)),
    st.builds(lambda o, n: f"employees_max(hired_on) {o} $today - {n}", CMP, st.integers(0, 400)),
)  # fmt: skip


@SETTINGS
@given(
    text=combined(employee_atom),
    firms=st.lists(st.lists(employments, max_size=4), min_size=1, max_size=3),
)
def test_enterprise_rules_over_employments_agree(
    text: str, firms: list[list[dict[str, Any]]]
) -> None:
    rule = _parsed(text, SCHEMA.enterprise, "eligibility")
    people, jobs, records = [], [], []
    for i, staff in enumerate(firms):
        rows = []
        for j, e in enumerate(staff):
            pid = f"P{i}-{j}"
            person = {"person_id": pid, **e["person"]}
            job = {"person_id": pid, "enterprise_id": f"E{i}", "hired_on": _day(e["hired_on"]),
                   "left_on": _day(e["left_on"]), "contract_months": e["contract_months"],
                   "unemployment_insurance_months": e["unemployment_insurance_months"]}  # fmt: skip
            people.append(person)
            jobs.append(job)
            rows.append({**person, **job})
        records.append({"enterprise_id": f"E{i}", EMPLOYEES: rows})
    resident_frame = pl.DataFrame(
        people, schema={k: RESIDENT_SCHEMA[k] for k in ["person_id", *profiles_keys()]}
    ).lazy()
    job_frame = pl.DataFrame(jobs, schema=SCHEMA.entity("employment").polars_schema()).lazy()
    firm_frame = pl.DataFrame({"enterprise_id": [r["enterprise_id"] for r in records]}).lazy()
    rows_frame = employee_rows(job_frame, resident_frame, TODAY)
    compiled = _compiled(rule, firm_frame, rows_frame, "enterprise_id")
    for record, got in zip(records, compiled, strict=True):
        expected = _ref_bool(reference(rule.text, record, TODAY))
        assert got == expected, (text, record)
        assert evaluate(rule, record, as_of=TODAY) == expected, (text, record)
