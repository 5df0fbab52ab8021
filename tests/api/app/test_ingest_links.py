"""Ingestion across links, through the API: a birth, a job lost, a hire and a death, sent one
by one, leave every resident's, household's and firm's offers as the batch run on the final
population gives them (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from matcher.live.offers import OfferCache, offers_now
from matcher.runs import RunStore
from matcher.units import match_units_frame
from profiles.schema import load_schema
from profiles.store import ProfileStore, add_missing_columns
from profiles.validation import conform
from rules.loader import load_catalog
from rules.store import PolicyStore
from tests.api.app.world import AT, World, make_world

SCHEMA = load_schema()
ON = date(2030, 6, 30)  # the run's date, ahead of today: what live matching evaluates on
FIRM_A, FIRM_B = "91110108000000000A", "91110105000000000B"

POLICIES = {
    "t-dibao": """
title: 低保（测试）
unit: household
eligibility: household_income_per_capita < 1450
benefit: (1450 - household_income_per_capita) * household_size
benefit_period: month
""",
    "t-childcare": """
title: 育儿补贴（测试）
recipient: guardian
eligibility: age < 3
benefit: '300'
benefit_period: month
""",
    "t-parent-leave": """
title: 育儿假（测试）
eligibility: children_under_3 >= 1
""",
    "t-staff": """
title: 稳岗（测试）
audience: enterprise
eligibility: employees >= 2
benefit: employees * 100
benefit_period: year
""",
    "t-young-hire": """
title: 扩岗（测试）
audience: enterprise
eligibility: graduate_hires >= 1
""",
}


def _write_catalog(directory: Path) -> Path:
    directory.mkdir()
    for pid, body in POLICIES.items():
        audience = "" if "audience:" in body else "audience: resident\n"
        (directory / f"{pid}.yaml").write_text(
            f"id: {pid}\ndepartment: 北京市民政局\nmode: proactive_push\n{audience}"
            f"valid_from: 2020-01-01\nprovenance: modelled\n"
            f"provenance_note: a test policy\n{body}",
            encoding="utf-8",
        )
    return directory


def _frame(entity: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    fields = SCHEMA.entity(entity).stored_fields
    return pl.DataFrame(
        [{f.name: row.get(f.name) for f in fields} for row in rows],
        schema={f.name: f.polars_dtype for f in fields},
    )


def _person(
    pid: str, born: date, home: str, relation: str, income: float, **kw: Any
) -> dict[str, Any]:
    return {"person_id": pid, "birth_date": born, "household_id": home, "hukou_city": "北京市",
            "relation_to_head": relation, "monthly_income": income, **kw}  # fmt: skip


def _start() -> dict[str, pl.DataFrame]:
    return {
        "resident": _frame("resident", [
            _person("dad", date(1992, 1, 1), "h1", "head", 2000.0),
            _person("mum", date(1994, 1, 1), "h1", "spouse", 1000.0),
            _person("gran", date(1944, 1, 1), "h2", "head", 1500.0),
            _person("lily", date(2028, 10, 1), "h2", "grandchild", 0.0, guardian_id="aunt"),
            _person("aunt", date(1989, 1, 1), "h3", "head", 9000.0),
            _person("tom", date(2007, 1, 1), "h4", "head", 0.0, graduated_on=date(2029, 7, 1)),
        ]),
        "household": _frame("household", [{"household_id": h} for h in ("h1", "h2", "h3", "h4")]),
        "enterprise": _frame("enterprise", [{"enterprise_id": e} for e in (FIRM_A, FIRM_B)]),
        "employment": _frame("employment", [
            {"person_id": "dad", "enterprise_id": FIRM_A, "hired_on": date(2024, 1, 1)},
            {"person_id": "mum", "enterprise_id": FIRM_A, "hired_on": date(2029, 1, 1)},
            {"person_id": "aunt", "enterprise_id": FIRM_B, "hired_on": date(2019, 1, 1)},
        ]),
    }  # fmt: skip


def _batch(population: dict[str, pl.DataFrame], catalog: Path) -> pl.DataFrame:
    policies = load_catalog([catalog], SCHEMA).in_force(ON)
    frames = {name: frame.lazy() for name, frame in population.items()}
    return match_units_frame(frames, policies, SCHEMA, as_of=ON)


def _final(population: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The population after the four events, written as the batch run reads it."""
    baby = _person("baby", date(2030, 5, 1), "h1", "child", 0.0, mother_id="mum",
                   father_id="dad")  # fmt: skip
    residents = pl.concat([population["resident"], _frame("resident", [baby])]).with_columns(
        pl.when(pl.col("person_id") == "dad").then(0.0).otherwise(pl.col("monthly_income"))
        .alias("monthly_income")
    )  # fmt: skip
    hire = {"person_id": "tom", "enterprise_id": FIRM_B, "hired_on": date(2030, 6, 15)}
    jobs = pl.concat([population["employment"], _frame("employment", [hire])]).with_columns(
        pl.when(pl.col("person_id") == "dad").then(date(2030, 6, 1)).otherwise(pl.col("left_on"))
        .alias("left_on")
    )  # fmt: skip
    return {
        **population,
        "resident": residents.filter(pl.col("person_id") != "aunt"),
        "employment": jobs.filter(pl.col("person_id") != "aunt"),
    }


@pytest.fixture
def linked_world(database_url: str, tmp_path: Path) -> Iterator[tuple[World, Path]]:
    for world in make_world(database_url, tmp_path):
        add_missing_columns(world.engine, SCHEMA)  # as `zhida serve` does at start
        catalog = _write_catalog(tmp_path / "linked-catalog")
        PolicyStore(world.engine).import_catalog(catalog, author="importer", note="seed")
        start = _start()
        ProfileStore(world.engine, SCHEMA).load_all(
            [(name, conform(frame, SCHEMA.entity(name), source=name))
             for name, frame in start.items()]
        )  # fmt: skip
        pairs = tmp_path / "linked-pairs.parquet"
        _batch(start, catalog).write_parquet(pairs)
        RunStore(world.engine, tmp_path / "data").record(
            pairs, as_of=ON, catalog_hash="d" * 64, population="q" * 64,
            started_at=AT + timedelta(hours=1), seconds=1.0, policies=len(POLICIES),
        )  # fmt: skip
        yield world, catalog


def _held(world: World, ids: list[str]) -> dict[tuple[str, str], tuple[str, Decimal | None]]:
    runs = RunStore(world.engine, Path("unused"))
    with world.engine.connect() as conn:
        _, offers = offers_now(conn, runs, OfferCache(), ids)
    return {
        (sid, o.policy_id): (o.status, o.benefit)
        for sid, found in offers.items()
        for o in found
        if o.policy_id.startswith("t-")
    }


def _pairs(frame: pl.DataFrame) -> dict[tuple[str, str], tuple[str, Decimal | None]]:
    return {
        (s, p): (st, b)
        for s, p, st, b in frame.select(
            "subject_id", "policy_id", pl.col("status").cast(pl.String), "benefit"
        ).rows()
    }


@pytest.mark.parametrize("death_by", ["/api/v1/events", "/api/v1/events/batch"])
def test_a_birth_a_job_lost_a_hire_and_a_death_sent_one_by_one_equal_the_batch_run(
    linked_world: tuple[World, Path], death_by: str
) -> None:
    world, catalog = linked_world
    admin = world.as_("admin")
    ids = ["dad", "mum", "gran", "lily", "aunt", "tom", "baby", "h1", "h2", "h3", "h4",
           FIRM_A, FIRM_B]  # fmt: skip
    assert _held(world, ids) == _pairs(_batch(_start(), catalog))
    told: dict[str, set[tuple[str, str, str]]] = {}

    def changed(name: str, response: Any) -> None:
        assert response.status_code in (200, 201), response.text
        told[name] = {(c["policy_id"], c["change"], c.get("new_status") or "")
                      for c in response.json()["changes"]}  # fmt: skip

    baby = {"birth_date": "2030-05-01", "household_id": "h1", "relation_to_head": "child",
            "hukou_city": "北京市", "monthly_income": 0.0, "mother_id": "mum",
            "father_id": "dad"}  # fmt: skip
    changed("birth", world.client.put("/api/v1/profiles/resident/baby", json=baby,
                                      headers=admin))  # fmt: skip
    ended = {"person_id": "dad", "enterprise_id": FIRM_A, "hired_on": "2024-01-01",
             "left_on": "2030-06-01"}  # fmt: skip
    changed("job lost", world.client.post("/api/v1/employments", json=ended, headers=admin))
    dad = {"birth_date": "1992-01-01", "household_id": "h1", "relation_to_head": "head",
           "hukou_city": "北京市", "monthly_income": 0.0}  # fmt: skip
    changed("income", world.client.put("/api/v1/profiles/resident/dad", json=dad,
                                       headers=admin))  # fmt: skip
    hire = {"person_id": "tom", "enterprise_id": FIRM_B, "hired_on": "2030-06-15"}
    changed("hire", world.client.post("/api/v1/employments", json=hire, headers=admin))
    death = {"subject_id": "aunt", "subject_type": "resident", "item_code": "death_registration",
             "occurred_at": "2030-06-20T10:00:00"}  # fmt: skip
    if death_by.endswith("batch"):  # a batch's events fan out as single ones do
        response = world.client.post(death_by, json=[death], headers=admin)
        assert response.status_code == 200, response.text
        (item,) = response.json()["items"]
        assert item["status"] == 201, item
        told["death"] = {(c["policy_id"], c["change"], c.get("new_status") or "")
                         for c in item["result"]["changes"]}  # fmt: skip
    else:
        changed("death", world.client.post(death_by, json=death, headers=admin))

    assert _held(world, ids) == _pairs(_batch(_final(_start()), catalog))
    # The baby's birth reaches both parents and the household: not only the baby's own record.
    assert ("t-parent-leave", "newly_eligible", "eligible") in told["birth"]
    assert ("t-dibao", "newly_eligible", "eligible") in told["birth"]
    assert ("t-staff", "no_longer_eligible", "") in told["job lost"]
    assert ("t-young-hire", "newly_eligible", "eligible") in told["hire"]
    # The aunt's death leaves her firm one employee (tom): its staff subsidy ends.
    assert ("t-staff", "no_longer_eligible", "") in told["death"]
