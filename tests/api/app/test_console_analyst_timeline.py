"""The analyst page's timeline: started in the background, watched, its charts and CSV."""

from __future__ import annotations

import csv
import io
import threading
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from api.app.audit import AuditLog
from api.app.services import Services
from simulations.timeline_job import Progress, track
from simulations.timeline_release import timeline_epsilon
from tests.api.app.test_console_subject import login
from tests.api.app.world import World

SMALL = {"months": "1", "residents": "400", "seeds": "2", "push": "on"}


def _svc(world: World) -> Services:
    found = world.client.app.state["services"]
    assert isinstance(found, Services)
    return found


def start(world: World, form: dict[str, str]) -> Any:
    return world.client.post("/console/analyst/timeline", data=form, follow_redirects=False)


def finished(world: World, form: dict[str, str] = SMALL) -> str:
    """Start a run as the logged-in user, wait for it; the run page's address."""
    response = start(world, form)
    assert response.status_code == 303, response.text
    _svc(world).simulations.join()
    return str(response.headers["location"])


@pytest.mark.parametrize("username", ["resident", "enterprise", "officer", "operator"])
def test_only_analysts_and_admins_start_or_read_a_timeline(
    served_world: World, username: str
) -> None:
    world = served_world
    login(world, "analyst")
    page = finished(world)
    login(world, username)
    assert start(world, SMALL).status_code == 403
    assert world.client.get(page).status_code == 403
    assert world.client.get(f"{page}/status").status_code == 403
    assert world.client.get(f"{page}/csv/summary").status_code == 403
    assert len(_svc(world).simulations.list()) == 1  # the refused start recorded nothing


def test_a_finished_run_shows_its_charts_tables_and_who_ran_it(
    served_world: World, served_population: Path
) -> None:
    world = served_world
    login(world, "analyst")
    page = finished(world)
    text = world.client.get(page).text
    assert 'id="tl-result"' in text and 'id="tl-progress"' not in text
    # Daily push load (peak marked), the funnel, take-up with and without push.
    assert 'aria-label="每日推送量（各次模拟的平均）"' in text and "peak " in text
    assert 'aria-label="转化漏斗：新符合 → 已通知 → 已读 → 已申请 → 已享受"' in text
    assert 'aria-label="有无主动推送的办理量"' in text
    assert 'id="tl-take-up"' in text and 'id="tl-peak"' in text
    # Two seeds: the horizon's figures carry intervals, "mean [lo, hi]".
    take_up = text.split('id="tl-take-up"', 1)[1].split("</table>", 1)[0]
    assert "[" in take_up and "已享受" in take_up
    status = world.client.get(f"{page}/status").json()
    assert status["status"] == "done" and status["done"] == status["total"] == 2 * 31
    listing = world.client.get("/console/analyst").text
    runs = listing.split('id="timeline-runs"', 1)[1].split("</table>", 1)[0]
    assert page in runs and "analyst" in runs and "UTC" in runs and "已完成" in runs
    # The sample of people was removed with the run; only the tables stay.
    (folder,) = (_svc(world).simulations.directory).iterdir()
    # beijing.csv: the released summary at Beijing scale (the population is calibrated)
    tables = ["beijing.csv", "daily.csv", "monthly.csv", "summary.csv"]
    assert sorted(p.name for p in folder.iterdir()) == tables
    assert 'id="tl-beijing"' in text
    entries = AuditLog(world.engine).entries(entity_type="simulation")
    (entry,) = [e for e in entries if e.action == "simulation.run"]
    assert entry.actor == "analyst"
    # Each view of the finished page releases its figures, and is audited with them.
    read = [e for e in entries if e.action == "simulation.read"]
    assert read and read[0].details["figures"][read[0].entity_id] is not None


def test_the_peak_card_and_the_push_load_chart_write_the_peak_alike(served_world: World) -> None:
    world = served_world
    login(world, "analyst")
    page = finished(world)
    # A mean over seeds of 1.5 messages on the busiest day, all by SMS (one line on the chart).
    path = _svc(world).simulations.directory / page.rsplit("/", 1)[1] / "daily.csv"
    daily = pl.read_csv(path, try_parse_dates=True)
    load = [(0.5, 1.5, 1.0)[i % 3] if arm == "push" else 0.0 for i, arm in enumerate(daily["arm"])]
    channels = [c for c in daily.columns if c.startswith("messages_")]
    daily.with_columns(
        pl.Series("messages", load), *(pl.lit(0.0).alias(c) for c in channels)
    ).with_columns(pl.col("messages").alias("messages_sms")).write_csv(path)
    text = world.client.get(page).text
    card = text.split('id="tl-peak">', 1)[1].split(" <small>", 1)[0]
    chart = text.split('aria-label="每日推送量（各次模拟的平均）"', 1)[1].split("</svg>", 1)[0]
    assert card == "1.5" and ">peak 1.5</text>" in chart and "peak 2" not in chart


def test_the_csv_downloads_are_audited_as_data_exports(served_world: World) -> None:
    world = served_world
    login(world, "analyst")
    page = finished(world)
    daily = world.client.get(f"{page}/csv/daily")
    assert daily.status_code == 200 and daily.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(daily.text)))
    assert {r["arm"] for r in rows} == {"push", "no_push"} and len(rows) == 2 * 31
    assert all(float(r["messages"]) == 0 for r in rows if r["arm"] == "no_push")
    assert world.client.get(f"{page}/csv/summary").status_code == 200
    assert world.client.get(f"{page}/csv/secrets").status_code == 404
    exports = [e for e in AuditLog(world.engine).entries() if e.action == "data.export"]
    what = sorted(e.details["what"] for e in exports)
    assert what == ["timeline daily (CSV)", "timeline summary (CSV)"]


def test_without_the_push_only_the_world_without_it_is_run(served_world: World) -> None:
    world = served_world
    login(world, "admin")
    page = finished(world, {**SMALL, "push": "", "seeds": "1"})
    text = world.client.get(page).text
    assert 'id="tl-result"' in text and "每日推送量" not in text and 'id="tl-peak"' not in text
    rows = list(csv.DictReader(io.StringIO(world.client.get(f"{page}/csv/daily").text)))
    assert {r["arm"] for r in rows} == {"no_push"}


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("months", "30", "months must be a whole number from 1 to 24, got '30'"),
        ("months", "two", "months must be a whole number from 1 to 24, got 'two'"),
        ("seeds", "0", "seeds must be a whole number from 1 to 10, got '0'"),
        ("residents", "5000", "the population has 3,000 residents; ask for 3,000 or fewer"),
    ],
)
def test_bad_parameters_are_a_message_on_the_page_and_nothing_runs(
    served_world: World, field: str, value: str, expected: str
) -> None:
    world = served_world
    login(world, "analyst")
    response = start(world, {**SMALL, field: value})
    assert response.status_code == 422
    problem = response.text.split('id="tl-problem">', 1)[1].split("</p>", 1)[0]
    assert problem == expected.replace("'", "&#39;")
    assert f'value="{value}"' in response.text  # what was typed stays in the form
    assert _svc(world).simulations.list() == []
    assert AuditLog(world.engine).entries(entity_type="simulation") == []


def test_without_a_population_the_timeline_says_how_to_start_the_server(world: World) -> None:
    login(world, "analyst")
    response = start(world, SMALL)
    assert response.status_code == 503 and "zhida serve --population DIR" in response.text


def test_a_running_run_shows_a_progress_bar_its_status_endpoint_feeds(served_world: World) -> None:
    world = served_world
    login(world, "analyst")
    release = threading.Event()
    runner = _svc(world).simulations

    def held(directory: Path) -> dict[str, Any]:
        release.wait(30)  # the run stays "running" until the test releases it
        return {}

    row = runner.start("timeline", {"months": 1, "seeds": 1, "push": True}, "analyst", held)
    track(row.id, Progress(12, 31))
    try:
        page = world.client.get(f"/console/analyst/timeline/{row.id}").text
        assert 'id="tl-progress" max="31" value="12"' in page and "12 / 31" in page
        status = world.client.get(f"/console/analyst/timeline/{row.id}/status").json()
        assert status["status"] in ("queued", "running") and (status["done"], status["total"]) == (
            12, 31,
        )  # fmt: skip
        assert world.client.get(f"/console/analyst/timeline/{row.id}/csv/daily").status_code == 404
    finally:
        release.set()
        runner.join()


def test_an_unknown_run_is_not_found(served_world: World) -> None:
    login(served_world, "analyst")
    page = served_world.client.get("/console/analyst/timeline/999")
    assert page.status_code == 404 and "没有这条随时间推演记录" in page.text
    assert served_world.client.get("/console/analyst/timeline/999/status").status_code == 404


def test_a_stranger_is_sent_to_log_in_and_the_status_is_a_401(served_world: World) -> None:
    page = served_world.client.get("/console/analyst/timeline/1", follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/console/login")
    assert served_world.client.get("/console/analyst/timeline/1/status").status_code == 401
    assert start(served_world, SMALL).headers["location"] == "/console/login"


def test_viewing_a_finished_run_again_shows_the_same_figures_and_spends_nothing(
    served_world: World,
) -> None:
    world = served_world
    login(world, "analyst")
    page = finished(world)
    budget = _svc(world).privacy
    charged = budget.spent("analyst")
    assert (charged.today, charged.releases) == (timeline_epsilon(), 1)  # the start, once

    def figures() -> tuple[str, str, str]:
        text = world.client.get(page).text
        take_up = text.split('id="tl-take-up"', 1)[1].split("</table>", 1)[0]
        return take_up, world.client.get(f"{page}/csv/summary").text, text.split("tl-peak", 1)[1]

    first = figures()
    assert figures() == first and figures() == first
    assert budget.spent("analyst") == charged


def test_a_spent_budget_refuses_a_new_timeline_with_a_message_and_runs_nothing(
    served_world: World,
) -> None:
    world = served_world
    login(world, "analyst")
    budget = _svc(world).privacy
    budget.charge("analyst", "earlier answers", budget.params.daily_cap - 1.0)
    response = start(world, SMALL)
    assert response.status_code == 429
    assert "your privacy budget for today is spent" in response.text
    assert f"costs ε={timeline_epsilon():g}" in response.text
    assert _svc(world).simulations.list() == []
    assert budget.spent("analyst").releases == 1  # nothing more was charged
