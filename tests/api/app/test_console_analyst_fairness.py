"""The analyst page's fairness section: the latest run's coverage and top-k exposure by group,
released per person with noise, charged once, audited."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from api.app.audit import AuditLog
from matcher.batch import match_population, write_pairs
from matcher.fairness import people_groups
from matcher.population import EventTagger, scan_population
from matcher.runs import RunStore
from profiles.schema import load_schema
from rules.store import PolicyStore
from simulations.budget import PrivacyBudget
from simulations.fairness_release import fairness_epsilon
from tests.api.app.test_console_subject import login
from tests.api.app.world import CATALOG, World

AS_OF = date(2026, 3, 1)


def _record_run(world: World, population: Path, tmp_path: Path) -> Path:
    """A recorded run of the published catalog over ``population`` (the page's latest)."""
    schema = load_schema()
    PolicyStore(world.engine).import_catalog(CATALOG, author="importer", note="whole catalog")
    in_force = PolicyStore(world.engine).catalog(AS_OF).in_force(AS_OF)
    pairs = tmp_path / "served-pairs.parquet"
    tagger = EventTagger.for_population(population, schema, as_of=AS_OF)
    write_pairs(
        match_population(scan_population(population, schema), in_force, schema, as_of=AS_OF,
                         tagger=tagger),
        pairs,
    )  # fmt: skip
    RunStore(world.engine, tmp_path / "data").record(
        pairs, as_of=AS_OF, catalog_hash="f" * 64, population="p" * 64,
        started_at=datetime.now(UTC), seconds=0.0, policies=len(in_force),
        rule_hashes={p.id: p.content_hash for p in in_force},
    )  # fmt: skip
    return pairs


def _rows(html: str, table: str) -> list[list[str]]:
    body = html.split(f'id="fairness-{table}"')[1].split("</table>", maxsplit=1)[0]
    # the subjects' column dropped: dimension, group, people, rate, ratio, flag
    return [re.findall(r"<td>(.*?)</td>", row)[1:] for row in body.split("<tr data-")[1:]]


def test_an_analyst_releases_the_fairness_figures_once_and_reads_them_again_for_free(
    served_world: World, served_population: Path, tmp_path: Path
) -> None:
    world = served_world
    pairs = _record_run(world, served_population, tmp_path)
    login(world, "analyst")
    before = world.client.get("/console/analyst").text
    assert 'id="fairness-run"' in before and f"ε={fairness_epsilon()}" in before
    budget = PrivacyBudget(world.engine)
    assert budget.spent("analyst").today == 0.0  # looking costs nothing
    ran = world.client.post("/console/analyst/fairness", follow_redirects=False)
    assert (ran.status_code, ran.headers["location"]) == (303, "/console/analyst#fairness")
    assert budget.spent("analyst").today == pytest.approx(fairness_epsilon())
    page = world.client.get("/console/analyst").text
    coverage, exposure = _rows(page, "coverage"), _rows(page, "exposure")
    assert {"性别", "残疾等级", "区"} <= {r[0] for r in coverage}
    assert "rules only" in page  # no model trained: the rules order the offers
    assert {r[0] for r in exposure} >= {"性别", "年龄段"}
    # Near the exact per-person figures (the noise of a count of ~1,500 people is a few).
    exact = (
        pl.read_parquet(pairs).filter(pl.col("subject_type") == "resident")
        .group_by("subject_id").agg((pl.col("status") == "eligible").mean().alias("share"))
        .join(people_groups(scan_population(served_population, load_schema())["resident"],
                            load_schema().resident, AS_OF), on="subject_id")
        .group_by("gender").agg(pl.col("share").mean(), pl.len())
    )  # fmt: skip
    shown = {r[1]: r for r in coverage if r[0] == "性别"}
    for group, share, people in exact.rows():
        assert abs(int(shown[group][2]) - people) < 150
        assert abs(float(shown[group][3]) - share) < 0.1, (shown, exact)
    # Asked again: the kept release, no new charge; every request is audited.
    again = world.client.post("/console/analyst/fairness")
    assert again.status_code == 200 and _rows(again.text, "coverage") == coverage
    assert budget.spent("analyst").today == pytest.approx(fairness_epsilon())
    entries = AuditLog(world.engine).entries(entity_type="match_run")
    released = [e for e in entries if e.action == "fairness.release"]
    assert len(released) == 2 and released[0].details["coverage"]


def test_only_analysts_and_admins_release_fairness_figures(
    served_world: World, served_population: Path, tmp_path: Path
) -> None:
    _record_run(served_world, served_population, tmp_path)
    login(served_world, "officer")
    assert served_world.client.post("/console/analyst/fairness").status_code == 403
    assert PrivacyBudget(served_world.engine).spent("officer").today == 0.0


def test_without_a_population_the_section_says_how_to_start_the_server(world: World) -> None:
    login(world, "analyst")
    page = world.client.post("/console/analyst/fairness")
    assert page.status_code == 503 and "zhida serve --population DIR" in page.text
