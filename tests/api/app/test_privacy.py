"""Issue 14, findings 1-4, tried again: nobody reads one person through the aggregates.

Each test is one attack of the review, made through the API (or on the function that computes
the released table) at the published noise (ε = 0.05 per figure); where an attack needs more
queries than a day's budget allows, the caps alone are raised so the noise can be measured.
"""

from __future__ import annotations

import csv
import io
import shutil
import statistics
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from api.app.audit import AuditLog
from api.app.services import Services
from matcher.runs import RunStore
from profiles.schema import load_schema
from rules.loader import Catalog, load_policy_text
from rules.store import PolicyStore
from simulations.privacy import DEFAULT, PrivacyParameters
from simulations.reach import ALL, simulate_reach
from simulations.reach_release import private_reach
from simulations.run_release import population_groups, private_by_group
from tests.api.app.test_dryrun import ALLOWANCE, AS_OF, URL, _people
from tests.api.app.world import CATALOG, World, make_world

# The published noise, with caps high enough to measure it over many queries.
UNCAPPED = PrivacyParameters(daily_cap=1e6, lifetime_cap=1e6)
TARGET = "P7"  # the resident the attacker is after
INCOME = 6697.0


def _population() -> pl.DataFrame:
    people = _people().with_columns(
        pl.when(pl.col("person_id") == TARGET).then(INCOME).otherwise(2000.0)
        .alias("monthly_income"),
        pl.when(pl.col("person_id") == TARGET).then(pl.lit("朝阳区"))
        .otherwise(pl.col("residence_district")).alias("residence_district"),
        pl.lit("13800000000").alias("phone"),
    )  # fmt: skip
    return people


@pytest.fixture
def attack_world(sqlite_url: str, tmp_path: Path) -> Iterator[World]:
    population = tmp_path / "pop"
    population.mkdir()
    _population().write_parquet(population / "residents.parquet")
    for world in make_world(sqlite_url, tmp_path, population):
        card = tmp_path / "card"
        card.mkdir()
        shutil.copy(CATALOG / "bj-elderly-card.yaml", card)
        PolicyStore(world.engine).import_catalog(card, author="importer", note="seed")
        assert _svc(world).privacy.params == DEFAULT  # the published parameters
        yield world


def _svc(world: World) -> Services:
    found = world.client.app.state["services"]
    assert isinstance(found, Services)
    return found


def _draft(eligibility: str, benefit: str = "100", pid: str = "bj-probe") -> str:
    return (
        ALLOWANCE.replace("id: bj-elderly-allowance", f"id: {pid}")
        .replace('age >= 80 and hukou_city == "北京市"', eligibility)
        .replace("benefit: 'parameters.elderly_allowance[age]'", f"benefit: '{benefit}'")
    )


def _dry_run(world: World, document: str, user: str = "analyst", **extra: Any) -> Any:
    return world.client.post(URL, json={"document": document, **extra}, headers=world.as_(user))


@pytest.mark.parametrize(
    ("eligibility", "benefit", "field"),
    [
        ("age >= 0", 'person_id == "P7" ? monthly_income : 0', "person_id"),
        ('phone == "13800000000"', "100", "phone"),
        ('birth_date < d"1950-01-01" and monthly_income > 5000', "100", "birth_date"),
    ],
)
def test_finding_1_a_rule_singling_out_a_person_is_a_422_naming_the_field(
    attack_world: World, eligibility: str, benefit: str, field: str
) -> None:
    response = _dry_run(attack_world, _draft(eligibility, benefit))
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert field in message and "single out a person" in message
    assert str(int(INCOME)) not in response.text


def test_finding_1_a_reach_simulation_singling_out_a_person_is_a_422(attack_world: World) -> None:
    attack = _draft("age >= 0", 'person_id == "P7" ? monthly_income : 0')
    response = attack_world.client.post(
        "/api/v1/simulations", json={"kind": "reach", "documents": [attack]},
        headers=attack_world.as_("analyst"),
    )  # fmt: skip
    assert response.status_code == 422 and "person_id" in response.json()["error"]["message"]
    assert _svc(attack_world).simulations.list() == []


def test_finding_1_a_binary_search_on_one_persons_income_learns_no_more_than_the_noise(
    attack_world: World,
) -> None:
    """Isolated by allowed fields (the only 朝阳区 resident), the target's income is probed
    with thresholds below and above it.  Without noise every answer below would be "<10" and
    every one above 0; with it, the answers are alike on both sides."""
    _svc(attack_world).privacy.params = UNCAPPED
    answers: dict[bool, list[Any]] = {True: [], False: []}
    for i in range(30):
        for below in (True, False):
            threshold = INCOME - 1 - i if below else INCOME + 1 + i
            rule = f'residence_district == "朝阳区" and monthly_income > {threshold}'
            body = _dry_run(attack_world, _draft(rule)).json()
            answers[below].append(body["eligible"])
    zero = {side: sum(a == 0 for a in found) / len(found) for side, found in answers.items()}
    assert abs(zero[True] - zero[False]) < 0.45  # without noise: 0.0 against 1.0
    assert answers[True] != ["<10"] * 30


def test_finding_1_a_day_of_thirty_previews_fits_and_a_search_past_the_budget_is_refused(
    attack_world: World,
) -> None:
    fits = int(DEFAULT.daily_cap // DEFAULT.dry_run_epsilon)
    assert fits >= 30
    for threshold in range(fits):
        rule = f'residence_district == "朝阳区" and monthly_income > {threshold * 500}'
        assert _dry_run(attack_world, _draft(rule)).status_code == 200
    refused = _dry_run(attack_world, _draft('residence_district == "朝阳区"'))
    assert refused.status_code == 429
    assert "privacy budget for today is spent" in refused.json()["error"]["message"]
    again = _dry_run(attack_world, _draft('residence_district == "朝阳区" and monthly_income > 0'))
    assert again.status_code == 200 and again.json()["cached"] is True  # received: free


def test_the_same_document_is_the_same_answer_and_spends_nothing(attack_world: World) -> None:
    document = _draft("age >= 60")
    first = _dry_run(attack_world, document).json()
    budget = _svc(attack_world).privacy
    spent = budget.spent("analyst").today
    _svc(attack_world).dry_runs.results.maxsize = 0  # forgotten by the server: kept in the db
    second = _dry_run(attack_world, document).json()
    assert {k: v for k, v in first.items() if k not in ("cached", "elapsed_ms")} == {
        k: v for k, v in second.items() if k not in ("cached", "elapsed_ms")
    }
    assert budget.spent("analyst").today == spent == pytest.approx(DEFAULT.dry_run_epsilon)


def test_a_preview_as_the_officer_types_spends_nothing(attack_world: World) -> None:
    typed = _dry_run(attack_world, _draft("age >= 61"), user="officer", run=False)
    assert typed.status_code == 409 and "run it explicitly" in typed.json()["error"]["message"]
    assert _svc(attack_world).privacy.spent("officer").today == 0


def test_a_dry_run_is_audited_with_the_documents_hash_and_the_figures(
    attack_world: World,
) -> None:
    body = _dry_run(attack_world, _draft("age >= 60")).json()
    (entry,) = [e for e in AuditLog(attack_world.engine).entries() if e.action == "policy.dry_run"]
    assert entry.actor == "analyst" and len(entry.details["document_sha256"]) == 64
    assert entry.details["figures"]["eligible"] == body["eligible"]


def test_an_admin_sees_budgets_and_a_reset_is_audited(attack_world: World) -> None:
    _dry_run(attack_world, _draft("age >= 60"))
    listed = attack_world.client.get(
        "/api/v1/privacy/budgets", headers=attack_world.as_("admin")
    ).json()
    assert [(b["username"], b["spent_today"]) for b in listed] == [
        ("analyst", pytest.approx(DEFAULT.dry_run_epsilon))
    ]
    assert listed[0]["epsilon_per_figure"] == DEFAULT.epsilon
    reset = attack_world.client.post(
        "/api/v1/privacy/budgets/analyst/reset", json={"reason": "new project, approved"},
        headers=attack_world.as_("admin"),
    )  # fmt: skip
    assert reset.status_code == 200 and reset.json()["spent_today"] == 0
    (entry,) = [e for e in AuditLog(attack_world.engine).entries() if e.action == "privacy.reset"]
    assert entry.entity_id == "analyst" and entry.details["reason"] == "new project, approved"
    other = attack_world.client.get(
        "/api/v1/privacy/budgets/admin", headers=attack_world.as_("analyst")
    )
    assert other.status_code == 403


# Finding 2: the "(all changed)" row minus a policy's row gives the other policy's hidden cell.


def _two_policy_reach(tmp_path: Path) -> tuple[Any, Catalog, Catalog, pl.DataFrame]:
    population = tmp_path / "pop"
    population.mkdir()
    _population().write_parquet(population / "residents.parquet")
    many = load_policy_text(_draft("age >= 60", "100", "bj-many"), Path("<a>"))
    one = load_policy_text(
        _draft('residence_district == "朝阳区" and monthly_income > 5000', "100", "bj-one"),
        Path("<b>"),
    )
    baseline, reform = Catalog((), {}, {}), Catalog((many, one), {}, {})
    reach = simulate_reach(population, baseline, reform, load_schema(), as_of=AS_OF)
    return reach, baseline, reform, population_groups(population, AS_OF)


def test_finding_2_subtracting_a_policy_from_the_total_does_not_recover_a_hidden_cell(
    tmp_path: Path,
) -> None:
    reach, baseline, reform, domain = _two_policy_reach(tmp_path)
    truth = dict(reach.policies.select("policy_id", "eligible_after").rows())
    assert truth["bj-one"] == 1  # the cell the attacker is after
    bounds = {"bj-many": 100, "bj-one": 100}
    recovered, costs = [], []
    for _ in range(200):
        shown = private_reach(reach, baseline, reform, bounds, bounds, domain)  # type: ignore[arg-type]
        rows = {r["policy_id"]: r for r in shown.policies.iter_rows(named=True)}
        recovered.append(int(rows[ALL]["eligible_after"]) - int(rows["bj-many"]["eligible_after"]))
        costs.append(rows[ALL]["cost_period_after"] - rows["bj-many"]["cost_period_after"])
    assert sum(r == 1 for r in recovered) / len(recovered) < 0.1
    assert statistics.mean(abs(r - 1) for r in recovered) > 5
    assert sum(c == 100 for c in costs) / len(costs) < 0.1  # its cost, 100, is not recovered


# Finding 3: a "<10" cell of the export = a policy's total over one dimension minus the other
# shown cells of another.


def test_finding_3_a_hidden_export_cell_is_not_recovered_from_the_other_dimensions(
    tmp_path: Path,
) -> None:
    people = _population()
    population = tmp_path / "pop"
    population.mkdir()
    people.write_parquet(population / "residents.parquet")
    pairs = tmp_path / "pairs.parquet"
    pl.DataFrame(
        {
            "subject_id": people["person_id"], "subject_type": ["resident"] * people.height,
            "policy_id": ["bj-a"] * people.height, "status": ["eligible"] * people.height,
        }
    ).write_parquet(pairs)  # fmt: skip
    hidden = ("district", "朝阳区")  # one resident: a "<10" cell
    errors = []
    for _ in range(100):
        table = private_by_group(pairs, population, AS_OF, ["bj-a"])
        cells = {(r["dimension"], r["group"]): r["eligible"] for r in table.iter_rows(named=True)}
        total = sum(int(v) for (d, _), v in cells.items() if d == "age_band" and v != "<10")
        others = sum(
            int(v) for (d, g), v in cells.items() if d == "district" and (d, g) != hidden
            and v != "<10"
        )  # fmt: skip
        errors.append(total - others - 1)
    assert sum(e == 0 for e in errors) / len(errors) < 0.1
    assert statistics.pstdev(errors) > 20


def test_the_export_lists_every_group_and_is_charged_once(
    attack_world: World, tmp_path: Path
) -> None:
    svc = _svc(attack_world)
    pairs = tmp_path / "run.parquet"
    pl.DataFrame(
        {"subject_id": ["P1", "P2"], "subject_type": ["resident"] * 2,
         "policy_id": ["bj-a"] * 2, "status": ["eligible"] * 2,
         "benefit": [None, None]},
        schema_overrides={"benefit": pl.Float64},
    ).write_parquet(pairs)  # fmt: skip
    RunStore(attack_world.engine, svc.data_dir).record(
        pairs, as_of=AS_OF, catalog_hash="e" * 64, population="p" * 64,
        started_at=datetime(2026, 3, 1, tzinfo=UTC), seconds=1.0, policies=1,
    )  # fmt: skip
    url = "/api/v1/exports/reach-by-group.csv"
    first = attack_world.client.get(url, headers=attack_world.as_("analyst"))
    second = attack_world.client.get(url, headers=attack_world.as_("analyst"))
    assert first.status_code == 200 and first.text == second.text
    rows = list(csv.DictReader(io.StringIO(first.text)))
    districts = {r["group"] for r in rows if r["dimension"] == "district"}
    assert districts == {"西城区", "海淀区", "朝阳区"}  # every group, not only those reached
    spent = svc.privacy.spent("analyst")
    assert spent.releases == 1 and spent.today > 0


# Finding 4: the test panel showed the benefit computed from a masked field.


def test_finding_4_the_test_panel_masks_a_benefit_read_from_the_income(
    attack_world: World,
) -> None:
    document = _draft("age >= 0", "monthly_income")
    response = attack_world.client.post(
        "/api/v1/policies/test", json={"document": document, "subject_id": TARGET},
        headers=attack_world.as_("officer"),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "eligible" and body["benefit"] == "***"
    assert "6697" not in response.text


def test_a_typed_profile_shows_its_benefit(attack_world: World) -> None:
    document = _draft("age >= 0", "monthly_income")
    body = attack_world.client.post(
        "/api/v1/policies/test", json={"document": document, "profile": {"age": 40,
                                                                        "monthly_income": 3000}},
        headers=attack_world.as_("officer"),
    ).json()  # fmt: skip
    assert body["benefit"] == "3000.00"


def test_a_benefit_from_ordinary_fields_is_shown_for_a_subject(attack_world: World) -> None:
    body = attack_world.client.post(
        "/api/v1/policies/test", json={"document": _draft("age >= 0", "100"),
                                       "subject_id": TARGET},
        headers=attack_world.as_("officer"),
    ).json()  # fmt: skip
    assert body["benefit"] == "100.00"
