"""Priority in planning: when a person has more offers than one message carries, the ranking's
order decides which are told — the model's when personalised, the rules' otherwise."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from core.db import get_engine, upgrade
from core.settings import Settings
from matcher.runs import RunStore
from notifier.campaign import plan_run
from notifier.dispatch import plan_changes
from notifier.tables import notices
from rules.policy import Policy

AS_OF = date(2026, 3, 2)
NOON = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
# Seven offers of one kind; the rules-only order puts the larger benefit first.
POLICIES = {
    f"x{i}": Policy(
        id=f"x{i}",
        title=f"补贴{i}",
        department="民政局",
        audience="resident",
        mode="proactive_push",
        eligibility="age > 1",
        valid_from=date(2020, 1, 1),
        benefit=str(100 * i),
        benefit_period="month",
    )
    for i in range(1, 8)
}
PAIRS = {"subject_id": pl.String, "subject_type": pl.String, "policy_id": pl.String,
         "status": pl.String, "benefit": pl.Float64}  # fmt: skip


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(
        {"ZHIDA_DATA_DIR": str(tmp_path), "ZHIDA_DATABASE_URL": f"sqlite:///{tmp_path}/z.db",
         "ZHIDA_QUIET_HOURS": "", **env}
    )  # fmt: skip


def _two_runs(settings: Settings) -> None:
    """Run 1: nothing; run 2: p1 eligible for all seven, each with its benefit."""
    engine = get_engine(settings.database_url)
    upgrade(engine)
    store = RunStore(engine, settings.data_dir)
    for name, rows in (
        ("before", []),
        ("after", [("p1", "resident", p, "eligible", 100.0 * int(p[1:])) for p in POLICIES]),
    ):
        path = settings.data_dir / f"{name}.parquet"
        pl.DataFrame(rows, schema=PAIRS, orient="row").write_parquet(path)
        store.record(
            path, as_of=AS_OF, catalog_hash="c", population="p", started_at=NOON, seconds=1.0,
            policies=len(POLICIES),
        )  # fmt: skip


def _told(settings: Settings) -> dict[str, str]:
    with get_engine(settings.database_url).connect() as conn:
        rows = conn.execute(sa.select(notices.c.policy_id, notices.c.decision)).all()
    return {p: d for p, d in rows}


def test_rules_only_priority_keeps_the_larger_benefits_in_the_message(tmp_path: Path) -> None:
    settings = _settings(tmp_path, ZHIDA_PERSONALISATION="off")
    _two_runs(settings)
    summary = plan_run(settings, POLICIES, now=NOON, channels=frozenset({"inbox"}))
    assert summary.ordered_by == "rules only (ZHIDA_PERSONALISATION=off)"
    told = _told(settings)
    # Without the ranking the policy ids would decide (x1..x5): the smallest benefits.
    assert sorted(p for p, d in told.items() if d == "suppressed") == ["x1", "x2"]
    assert sorted(p for p, d in told.items() if d == "planned") == ["x3", "x4", "x5", "x6", "x7"]


@pytest.mark.parametrize(
    ("population", "why"),
    [
        (False, "the model needs the population's profiles: pass --population"),
        (True, "no trained model yet (`zhida rank train`)"),
    ],
)
def test_personalised_without_what_the_model_needs_falls_back_to_the_rules_and_says_why(
    tmp_path: Path, population: bool, why: str
) -> None:
    settings = _settings(tmp_path)
    _two_runs(settings)
    pl.DataFrame({"person_id": ["p1"]}).write_parquet(tmp_path / "residents.parquet")
    summary = plan_run(
        settings, POLICIES, now=NOON, channels=frozenset({"inbox"}),
        population=tmp_path if population else None,
    )  # fmt: skip
    assert summary.ordered_by == f"rules only ({why})"
    assert _told(settings)["x7"] == "planned" and _told(settings)["x1"] == "suppressed"


def test_a_given_priority_decides_which_offers_the_message_keeps(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    engine = get_engine(settings.database_url)
    upgrade(engine)
    rows: list[dict[str, Any]] = [
        {"subject_id": "p1", "subject_type": "resident", "policy_id": p,
         "change": "newly_eligible", "old_status": None, "new_status": "eligible"}
        for p in POLICIES
    ]  # fmt: skip
    # The model prefers the small ones (say, they are what this person takes up).
    priority = {("p1", p): 1.0 / int(p[1:]) for p in POLICIES}
    plan_changes(
        engine, rows, POLICIES, cause="c", as_of=AS_OF, now=NOON, settings=settings,
        priority=priority, channels=frozenset({"inbox"}),
    )  # fmt: skip
    told = _told(settings)
    assert sorted(p for p, d in told.items() if d == "suppressed") == ["x6", "x7"]


def test_a_subject_who_switched_personalisation_off_is_ordered_by_the_rules(
    tmp_path: Path,
) -> None:
    from profiles.personalisation import PersonalisationStore

    settings = _settings(tmp_path)  # personalisation on for the deployment
    _two_runs(settings)
    pl.DataFrame({"person_id": ["p1"]}).write_parquet(tmp_path / "residents.parquet")
    PersonalisationStore(get_engine(settings.database_url)).choose(
        "p1", "resident", personalised=False
    )
    summary = plan_run(
        settings, POLICIES, now=NOON, channels=frozenset({"inbox"}), population=tmp_path
    )
    # Without the choice this would read "no trained model yet": the choice is consulted first.
    assert summary.ordered_by == "rules only (every subject here switched personalised ranking off)"
    assert _told(settings)["x7"] == "planned" and _told(settings)["x1"] == "suppressed"


def _stub_model(*, audit: bool) -> Any:
    """A model of one feature whose trees predict the same for everyone: what matters here is
    what it reads — a citable fact of the pair, or (for audits) the protected ``age``."""
    import numpy as np

    from matcher.ranking.features import Feature, FeatureSpec
    from matcher.ranking.model import RankingModel
    from matcher.ranking.trees import TreeEnsemble

    feature = (
        Feature("resident.age", "年龄", "age", "profile", sensitivity="protected")
        if audit
        else Feature("pair.maybe", "待确认资格", "to confirm", "pair", sensitivity="ordinary")
    )
    stump = TreeEnsemble(
        baseline=0.0, feature=np.array([-1]), threshold=np.array([0.0]),
        missing_left=np.array([True]), left=np.array([0]), right=np.array([0]),
        leaf=np.array([True]), value=np.array([0.0]), mean=np.array([0.0]),
        roots=np.array([0]), n_features=1,
    )  # fmt: skip
    return RankingModel(FeatureSpec((feature,)), stump, stump)


def _save(settings: Settings, *, audit: bool) -> str:
    from matcher.ranking.registry import ModelRegistry

    registry = ModelRegistry(settings.data_dir / "models")
    return registry.save(_stub_model(audit=audit), seed=1, data_hash="d", metrics={}).version


def test_an_audit_model_never_orders_pushes(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    _two_runs(settings)
    pl.DataFrame({"person_id": ["p1"]}).write_parquet(tmp_path / "residents.parquet")
    assert _save(settings, audit=True) == "v1"
    summary = plan_run(
        settings, POLICIES, now=NOON, channels=frozenset({"inbox"}), population=tmp_path
    )
    assert summary.ordered_by.startswith("rules only (every trained model is for audits only")
    assert _told(settings)["x7"] == "planned" and _told(settings)["x1"] == "suppressed"


def test_a_newer_audit_model_is_passed_over_for_the_one_that_may_order(tmp_path: Path) -> None:
    from notifier.priority import run_priority

    settings = _settings(tmp_path)
    _two_runs(settings)
    pl.DataFrame({"person_id": ["p1"]}).write_parquet(tmp_path / "residents.parquet")
    _save(settings, audit=False)
    _save(settings, audit=True)
    ranking = run_priority(
        settings, settings.data_dir / "after.parquet", AS_OF, POLICIES, subjects=["p1"],
        population=tmp_path,
    )  # fmt: skip
    assert ranking.how == "model v1"


def test_grants_are_outside_the_ranked_set_and_told_first(tmp_path: Path) -> None:
    """Seven offers and a grant of the smallest benefit: the model ranks only the offers, the
    grant's priority is above them all, and its notice is planned whatever the digest keeps."""
    from notifier.priority import run_priority

    settings = _settings(tmp_path)
    engine = get_engine(settings.database_url)
    upgrade(engine)
    grant = Policy(
        id="g1", title="津贴", department="民政局", audience="resident", mode="auto_grant",
        eligibility="age > 1", valid_from=date(2020, 1, 1), benefit="1", benefit_period="month",
    )  # fmt: skip
    policies = {**POLICIES, "g1": grant}
    rows = [("p1", "resident", p, "eligible", 100.0 * int(p[1:])) for p in POLICIES]
    pairs = settings.data_dir / "pairs.parquet"
    pl.DataFrame([*rows, ("p1", "resident", "g1", "eligible", 1.0)], schema=PAIRS,
                 orient="row").write_parquet(pairs)  # fmt: skip
    pl.DataFrame({"person_id": ["p1"]}).write_parquet(tmp_path / "residents.parquet")
    _save(settings, audit=False)
    ranking = run_priority(settings, pairs, AS_OF, policies, subjects=["p1"], population=tmp_path)
    assert ranking.how == "model v1"
    priority = ranking.priority
    assert priority[("p1", "g1")] > max(v for k, v in priority.items() if k[1] != "g1")
    changes: list[dict[str, Any]] = [
        {"subject_id": "p1", "subject_type": "resident", "policy_id": p,
         "change": "newly_eligible", "old_status": None, "new_status": "eligible"}
        for p in policies
    ]  # fmt: skip
    plan_changes(
        engine, changes, policies, cause="c", as_of=AS_OF, now=NOON, settings=settings,
        priority=priority, channels=frozenset({"inbox"}),
    )  # fmt: skip
    told = _told(settings)
    assert told["g1"] == "planned"  # first in the message, which keeps four offers beside it
    assert sorted(p for p, d in told.items() if d == "planned" and p != "g1") == [
        "x4", "x5", "x6", "x7",
    ]  # fmt: skip
