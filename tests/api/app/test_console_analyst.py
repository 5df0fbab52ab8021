"""The analyst's page: a reach simulation of a draft, aggregates only, CSV audited."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import polars as pl
import pytest

from api.app.audit import AuditLog
from api.app.routes.console_analyst import charts
from simulations.disclosure import reach_rows
from tests.api.app.test_console_subject import login
from tests.api.app.world import CATALOG, World

DRAFT = (CATALOG / "bj-elderly-allowance.yaml").read_text(encoding="utf-8")
REFORM = DRAFT.replace("age >= 80", "age >= 75")


def run(world: World, document: str, as_of: str = "2026-03-01") -> tuple[int, str]:
    response = world.client.post("/console/analyst", data={"document": document, "as_of": as_of})
    return response.status_code, response.text


@pytest.mark.parametrize("username", ["resident", "enterprise", "officer", "operator"])
def test_only_analysts_and_admins_open_the_analyst_page(world: World, username: str) -> None:
    login(world, username)
    page = world.client.get("/console/analyst")
    assert page.status_code == 403 and "analyst, admin" in page.text
    assert world.client.post("/console/analyst", data={"document": DRAFT}).status_code == 403


def test_a_stranger_is_sent_to_log_in(world: World) -> None:
    page = world.client.get("/console/analyst", follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/console/login")


def test_picking_a_published_policy_puts_its_yaml_in_the_editor(world: World) -> None:
    login(world, "analyst")
    page = world.client.get("/console/analyst?policy=bj-elderly-allowance")
    assert page.status_code == 200
    assert "age &gt;= 80 and hukou_city ==" in page.text


def test_a_simulation_shows_charts_and_k_anonymous_tables_and_no_person(
    served_world: World, served_population: Path
) -> None:
    world = served_world
    login(world, "analyst")
    status, text = run(world, REFORM)
    assert status == 200, text
    assert "<svg" in text and 'id="groups"' in text
    assert 'aria-label="符合条件人数：按年龄段"' in text
    assert "age &gt;= 80" in text and "age &gt;= 75" in text  # the change, before and after
    # The 75-79 band is newly eligible; the rows are aggregates only.
    residents = pl.read_parquet(served_population / "residents.parquet")
    for person_id, name in residents.select("person_id", "name").head(3000).rows():
        assert person_id not in text
        if name and len(name) >= 3:
            assert name not in text
    assert "<10" in text or "&lt;10" in text  # small groups suppressed (3,000 people)
    (entry,) = AuditLog(world.engine).entries(entity_type="simulation")
    assert entry.action == "simulation.run" and entry.actor == "analyst"
    assert entry.details["figures"]["total"] is not None  # what the page released


def test_the_csv_is_the_same_k_anonymous_table_and_its_download_is_audited(
    served_world: World,
) -> None:
    world = served_world
    login(world, "analyst")
    # A reform that moves hundreds of people, so that the released (noisy) totals show it
    # whatever the noise: 75+ instead of 80+ moves about as many as one figure's 95 % interval.
    status, text = run(world, DRAFT.replace("age >= 80", "age >= 60"))
    assert status == 200
    link = text.split('id="csv" href="', 1)[1].split('"', 1)[0]
    download = world.client.get(link)
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert rows[0]["dimension"] == "total"
    bands = {r["group"]: r for r in rows if r["dimension"] == "age_band"}
    assert "60-79" in bands
    for row in rows:
        for column in ("eligible_before", "eligible_after", "newly_eligible"):
            value = row[column]
            assert value == "<10" or int(value) == 0 or int(value) >= 10
    total = rows[0]
    assert int(total["eligible_after"]) > int(total["eligible_before"])
    exports = [e for e in AuditLog(world.engine).entries() if e.action == "data.export"]
    assert [e.entity_id for e in exports] == [link.split("/")[3]]


def test_another_analysts_or_an_unknown_simulation_is_not_found(served_world: World) -> None:
    world = served_world
    login(world, "analyst")
    _, text = run(world, REFORM)
    link = text.split('id="csv" href="', 1)[1].split('"', 1)[0]
    assert world.client.get("/console/analyst/0123456789abcdef/reach.csv").status_code == 404
    assert world.client.get("/console/analyst/..%2F..%2Fx/reach.csv").status_code == 404
    login(world, "admin")
    assert world.client.get(link).status_code == 200  # an admin may, audited
    login(world, "resident")
    assert world.client.get(link).status_code == 403


def test_a_draft_with_a_typo_is_shown_with_line_and_column(served_world: World) -> None:
    world = served_world
    login(world, "analyst")
    status, text = run(world, DRAFT.replace("age >= 80", "agee >= 80"))
    assert status == 422
    assert "agee" in text and "age" in text and 'class="problems"' in text
    assert AuditLog(world.engine).entries(entity_type="simulation") == []


@pytest.mark.parametrize(
    ("document", "as_of", "expected"),
    [("", "2026-03-01", "the draft is empty"), (DRAFT, "03/01/2026", "is not YYYY-MM-DD")],
)
def test_an_empty_draft_or_a_bad_date_is_refused(
    served_world: World, document: str, as_of: str, expected: str
) -> None:
    login(served_world, "analyst")
    status, text = run(served_world, document, as_of)
    assert status == 422 and expected in text


def test_without_a_population_the_page_says_how_to_start_the_server(world: World) -> None:
    login(world, "analyst")
    assert "zhida serve --population" in world.client.get("/console/analyst").text
    status, text = run(world, REFORM)
    assert status == 503 and "zhida serve --population DIR" in text


def test_the_page_is_english_on_request(served_world: World) -> None:
    login(served_world, "analyst")
    page = served_world.client.get("/console/analyst?lang=en")
    assert "Reach simulation" in page.text and "Run simulation" in page.text


def test_an_unchanged_policy_says_there_is_nothing_to_simulate(served_world: World) -> None:
    login(served_world, "analyst")
    status, text = run(served_world, DRAFT)
    assert status == 200 and "没有需要推演的变化" in text
    assert 'id="csv"' not in text and "<svg" not in text


def test_a_draft_not_in_force_on_the_as_of_date_is_said_to_match_no_one(
    served_world: World,
) -> None:
    login(served_world, "analyst")
    later = REFORM.replace("valid_from: 2020-01-01", "valid_from: 2030-01-01")
    status, text = run(served_world, later)
    assert status == 200 and "不在有效期内" in text and "2030-01-01 – …" in text
    status, text = run(served_world, REFORM)
    assert status == 200 and "不在有效期内" not in text


def test_a_suppressed_count_is_a_stub_in_the_chart_and_its_number_is_nowhere() -> None:
    rows = reach_rows([
        {"dimension": "district", "group": "西城区", "eligible_before": 7, "eligible_after": 12},
        {"dimension": "district", "group": "东城区", "eligible_before": 30, "eligible_after": 40},
    ])  # fmt: skip
    (svg,) = charts({"groups": rows}, "en")
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert labels.count("&lt;10") == 1 and {"12", "30", "40"} <= set(labels) and "7" not in labels
    assert "before: &lt;10" in svg and ": 7<" not in svg  # nor in the bar's tooltip
    assert 'width="4.0" height="10" fill="none"' in svg  # a stub, not a bar of 7/40 of the width


def test_a_modelled_draft_is_marked_modelled_beside_its_change(served_world: World) -> None:
    login(served_world, "analyst")
    status, cited = run(served_world, REFORM)
    assert status == 200 and 'data-provenance="modelled"' not in cited
    note = "provenance: modelled\nprovenance_note: 'a test'"
    modelled = REFORM.replace("provenance: cited", note)
    status, text = run(served_world, modelled)
    assert status == 200, text
    change = text[text.index('<ul class="changes">') :].split("</ul>")[0]
    assert 'bj-elderly-allowance <span class="modelled-policy" data-provenance="modelled"' in change
