"""Mutually exclusive policies (issue 17): a subject matched by both is granted one of them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from core.db import get_engine, upgrade
from core.settings import Settings
from matcher.batch import MATCH_SCHEMA, match_frame
from notifier.campaign import record_and_plan
from notifier.tables import grants
from profiles.schema import load_schema
from rules.loader import load_catalog
from rules.policy import Policy
from rules.relations import Relation

CATALOG = Path(__file__).resolve().parents[2] / "rules" / "catalog"
AS_OF = date(2026, 3, 2)
NOON = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    upgrade(get_engine(database_url))
    return Settings.from_env(
        {"ZHIDA_DATA_DIR": str(tmp_path), "ZHIDA_DATABASE_URL": database_url,
         "ZHIDA_QUIET_HOURS": "", "ZHIDA_PERSONALISATION": "off"}
    )  # fmt: skip


def _catalog(wins: str | None) -> dict[str, Policy]:
    allowance = load_catalog([CATALOG / "bj-elderly-allowance.yaml"]).by_id["bj-elderly-allowance"]
    # A second 高龄 benefit of 1,500 a year that excludes the allowance (100 / 500 / 800 a month).
    bonus = replace(
        allowance, id="bj-elderly-bonus", title="高龄补贴", benefit="1500", benefit_period="year",
        relations=(Relation("excludes", "bj-elderly-allowance", wins),),
    )  # fmt: skip
    return {p.id: p for p in (allowance, bonus)}


def _granted(settings: Settings, wins: str | None, tmp_path: Path) -> dict[str, list[str]]:
    policies = _catalog(wins)
    residents = pl.LazyFrame(
        {
            "person_id": ["P85", "P95", "P70"],
            "birth_date": [date(1940, 6, 1), date(1930, 6, 1), date(1955, 6, 1)],
            "hukou_city": ["北京市"] * 3,
        }
    )
    pairs = match_frame({"resident": residents}, list(policies.values()), load_schema(),
                        as_of=AS_OF)  # fmt: skip
    empty, full = tmp_path / "empty.parquet", tmp_path / "pairs.parquet"
    MATCH_SCHEMA.to_frame().write_parquet(empty)
    pairs.write_parquet(full)
    for path in (empty, full):  # the first run has no diff; the second grants
        record_and_plan(
            settings, path, policies, as_of=AS_OF, catalog_hash=path.stem,
            population_id="pop", started_at=NOON, seconds=1.0, now=NOON,
            channels=frozenset({"inbox"}),
        )  # fmt: skip
    with get_engine(settings.database_url).connect() as conn:
        rows = conn.execute(sa.select(grants.c.subject_id, grants.c.policy_id)).all()
    out: dict[str, list[str]] = {}
    for subject, policy in rows:
        out.setdefault(subject, []).append(policy)
    return out


def test_each_subject_is_granted_the_larger_annual_benefit_of_two_exclusive_policies(
    settings: Settings, tmp_path: Path
) -> None:
    # 85: 100 a month (1,200 a year) < 1,500; 95: 500 a month (6,000 a year) > 1,500.
    assert _granted(settings, None, tmp_path) == {
        "P85": ["bj-elderly-bonus"],
        "P95": ["bj-elderly-allowance"],
    }


def test_the_declared_winner_is_granted_whatever_the_amounts(
    settings: Settings, tmp_path: Path
) -> None:
    assert _granted(settings, "bj-elderly-bonus", tmp_path) == {
        "P85": ["bj-elderly-bonus"],
        "P95": ["bj-elderly-bonus"],
    }
