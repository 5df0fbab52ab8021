"""Event-driven matching across links: events replayed one by one, each re-matching only the
units its links reach, equal the batch run on the final population."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

import polars as pl

from matcher.live.linked import Affected, Frames, Touched, affected, context, rematch
from matcher.units import match_units_frame
from profiles.schema import load_schema
from rules.policy import Policy

SCHEMA = load_schema()
ON = date(2026, 6, 30)
FIRM_A, FIRM_B = "91110108000000000A", "91110105000000000B"


def policy(pid: str, eligibility: str, benefit: str | None = None, **kw: object) -> Policy:
    return Policy(
        id=pid, title=pid, department="d", audience=kw.pop("audience", "resident"),  # type: ignore[arg-type]
        mode="proactive_push", eligibility=eligibility, benefit=benefit,
        benefit_period="month" if benefit else None, valid_from=date(2020, 1, 1), **kw,  # type: ignore[arg-type]
    )  # fmt: skip


POLICIES = [
    policy(
        "dibao",
        "household_income_per_capita < 1450",
        "(1450 - household_income_per_capita) * household_size",
        unit="household",
    ),
    policy("childcare", "age < 3", "300", recipient="guardian"),
    policy("parent-leave", "children_under_3 >= 1"),
    policy("staff", "employees >= 2", "employees * 100", audience="enterprise"),
    policy("young-hire", "graduate_hires >= 1", audience="enterprise"),
]


def frame(entity: str, rows: list[dict[str, object]]) -> pl.DataFrame:
    """Rows in the schema's dtypes, every stored field present (absent: unknown)."""
    fields = SCHEMA.entity(entity).stored_fields
    return pl.DataFrame(
        [{f.name: row.get(f.name) for f in fields} for row in rows],
        schema={f.name: f.polars_dtype for f in fields},
    )


def person(
    pid: str, born: date, home: str, relation: str, income: float, **kw: object
) -> dict[str, object]:
    return {"person_id": pid, "birth_date": born, "household_id": home,
            "relation_to_head": relation, "monthly_income": income, **kw}  # fmt: skip


START: dict[str, pl.DataFrame] = {
    "resident": frame("resident", [
        person("dad", date(1988, 1, 1), "h1", "head", 2000.0),
        person("mum", date(1990, 1, 1), "h1", "spouse", 1000.0),
        person("gran", date(1940, 1, 1), "h2", "head", 1500.0),
        person("lily", date(2024, 10, 1), "h2", "grandchild", 0.0, guardian_id="aunt"),
        person("aunt", date(1985, 1, 1), "h3", "head", 9000.0),
        person("tom", date(2003, 1, 1), "h4", "head", 0.0, graduated_on=date(2025, 7, 1)),
    ]),
    "household": frame("household", [{"household_id": h} for h in ("h1", "h2", "h3", "h4")]),
    "enterprise": frame("enterprise", [{"enterprise_id": e} for e in (FIRM_A, FIRM_B)]),
    "employment": frame("employment", [
        {"person_id": "dad", "enterprise_id": FIRM_A, "hired_on": date(2020, 1, 1)},
        {"person_id": "mum", "enterprise_id": FIRM_A, "hired_on": date(2025, 1, 1)},
        {"person_id": "aunt", "enterprise_id": FIRM_B, "hired_on": date(2015, 1, 1)},
    ]),
}  # fmt: skip


def match(frames: Mapping[str, pl.LazyFrame]) -> pl.DataFrame:
    """The batch run's matcher: the links' aggregates, then every unit's pairs."""
    return match_units_frame(frames, POLICIES, SCHEMA, as_of=ON)


def batch(population: Frames) -> pl.DataFrame:
    pairs = match({k: v.lazy() for k, v in population.items()})
    return pairs.sort("subject_type", "subject_id", "policy_id")


def with_rows(
    population: Frames, entity: str, rows: list[dict[str, object]]
) -> dict[str, pl.DataFrame]:
    return {**population, entity: pl.concat([population[entity], frame(entity, rows)])}


def edited(
    population: Frames, entity: str, where: pl.Expr, **values: object
) -> dict[str, pl.DataFrame]:
    table = population[entity]
    return {**population, entity: table.with_columns(
        pl.when(where).then(pl.lit(v, table.schema[k])).otherwise(pl.col(k)).alias(k)
        for k, v in values.items()
    )}  # fmt: skip


def without(population: Frames, entity: str, where: pl.Expr) -> dict[str, pl.DataFrame]:
    return {**population, entity: population[entity].filter(~where)}


def events() -> list[tuple[str, dict[str, pl.DataFrame], Touched]]:
    """(name, the population after it, what it touched), in order."""
    out = []
    p: dict[str, pl.DataFrame] = dict(START)
    p = with_rows(p, "resident", [person("baby", date(2026, 5, 1), "h1", "child", 0.0,
                                         mother_id="mum", father_id="dad")])  # fmt: skip
    out.append(("birth", p, Touched(residents=frozenset({"baby"}))))
    p = edited(p, "employment", (pl.col("person_id") == "dad"), left_on=date(2026, 6, 1))
    p = edited(p, "resident", pl.col("person_id") == "dad", monthly_income=0.0)
    out.append(("job lost", p, Touched(residents=frozenset({"dad"}),
                                       employments=frozenset({("dad", FIRM_A)}))))  # fmt: skip
    hire = {"person_id": "tom", "enterprise_id": FIRM_B, "hired_on": date(2026, 6, 15)}
    p = with_rows(p, "employment", [hire])
    out.append(("hire", p, Touched(employments=frozenset({("tom", FIRM_B)}))))
    p = without(p, "employment", pl.col("person_id") == "aunt")
    p = without(p, "resident", pl.col("person_id") == "aunt")
    p = without(p, "household", pl.col("household_id") == "h3")
    out.append(("death", p, Touched(residents=frozenset({"aunt"}), households=frozenset({"h3"}),
                                    employments=frozenset({("aunt", FIRM_B)}))))  # fmt: skip
    return out


def test_events_replayed_one_by_one_equal_the_batch_run() -> None:
    pairs, before = batch(START), START
    told: dict[str, pl.DataFrame] = {}
    for name, after, touched in events():
        pairs, told[name] = rematch(pairs, before, after, touched, match)
        assert pairs.equals(batch(after)), name
        before = after
    changes = {
        name: {(r["subject_id"], r["policy_id"], r["change"], r["recipient_id"])
               for r in rows.to_dicts()}
        for name, rows in told.items()
    }  # fmt: skip
    # A birth: the child's offer to its mother, both parents', and the household's 低保 grows.
    assert {("baby", "childcare", "newly_eligible", "mum"),
            ("mum", "parent-leave", "newly_eligible", "mum"),
            ("dad", "parent-leave", "newly_eligible", "dad"),
            ("h1", "dibao", "newly_eligible", "dad")} <= changes["birth"]  # fmt: skip
    # A job lost: the firm's staff count falls below two; the household's 低保 grows.
    assert {("h1", "dibao", "benefit_changed", "dad"),
            (FIRM_A, "staff", "no_longer_eligible", FIRM_A)} <= changes["job lost"]  # fmt: skip
    assert (FIRM_B, "young-hire", "newly_eligible", FIRM_B) in changes["hire"]
    # A death: the guardian is gone, so the child's offer is told to its household's head.
    final = batch(events()[-1][1])
    lily = final.filter((pl.col("subject_id") == "lily") & (pl.col("policy_id") == "childcare"))
    assert lily["recipient_id"].to_list() == ["gran"]


def test_an_event_reaches_the_household_the_parents_and_the_employer() -> None:
    _, after, touched = events()[0]
    reached = affected(START, after, touched)
    assert reached == Affected(
        residents=frozenset({"baby", "mum", "dad"}),
        households=frozenset({"h1"}),
        enterprises=frozenset({FIRM_A}),
    )
    cut = context(after, reached)
    assert cut["resident"].collect()["person_id"].sort().to_list() == ["baby", "dad", "mum"]


def test_re_matching_only_the_touched_record_would_miss_what_the_links_change() -> None:
    _, after, touched = events()[0]
    alone = Affected(frozenset(touched.residents), frozenset(), frozenset())
    fresh = match(context(after, alone)).filter(alone.holds())
    naive = pl.concat([batch(START).filter(~alone.holds()), fresh.cast(batch(START).schema)])
    assert not naive.sort("subject_type", "subject_id", "policy_id").equals(batch(after))
    assert batch(after).filter(pl.col("subject_id") == "h1")["benefit"].to_list() == [
        Decimal("1350.00")  # (1450 - 3000 / 3) x 3
    ]
