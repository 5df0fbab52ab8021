"""An analyst simulates a draft change in the browser: picks a policy, edits it, reads the chart,
downloads the CSV (audited) — on a desktop and on a phone-width screen."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from api.app.audit import AuditLog
from tests.browser.conftest import LiveWorld


def _simulate(page: Any, live: LiveWorld) -> None:
    page.goto(live.url("/console/analyst"))
    page.select_option("#pick-policy", "bj-elderly-allowance")  # loads its YAML (no button)
    page.wait_for_url("**/console/analyst?policy=bj-elderly-allowance")
    editor = page.locator("#document")
    assert "age >= 80" in editor.input_value()
    editor.fill(editor.input_value().replace("age >= 80", "age >= 70"))
    page.click("#run")
    page.wait_for_selector("#result")


def test_an_analyst_runs_a_simulation_sees_the_chart_and_downloads_the_csv(
    analyst_page: Any, live: LiveWorld, tmp_path: Path
) -> None:
    page = analyst_page
    _simulate(page, live)
    result = page.locator("#result")
    assert "age >= 70" in result.inner_text()
    charts = page.locator(".charts svg")
    assert charts.count() >= 3  # district, age band, gender, ...
    assert charts.first.bounding_box()["width"] > 100
    assert page.locator("#groups tbody tr").count() > 3
    assert live.resident_id not in page.content()  # aggregates only
    with page.expect_download() as download_info:
        page.click("#csv")
    saved = tmp_path / "reach.csv"
    download_info.value.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert rows[0]["dimension"] == "total" and {"district", "age_band"} <= {
        r["dimension"] for r in rows
    }
    exports = [e for e in AuditLog(live.engine).entries() if e.action == "data.export"]
    assert exports and exports[0].actor == "analyst"


def test_the_analyst_page_fits_a_phone_screen(phone_page_as: Any, live: LiveWorld) -> None:
    page = phone_page_as("analyst")
    _simulate(page, live)
    # Nothing wider than the screen: wide tables scroll inside their own box.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"
    page.screenshot(path=str(Path(live.data_dir) / "analyst-390.png"), full_page=True)


def test_a_draft_with_a_typo_shows_the_line_and_column(analyst_page: Any, live: LiveWorld) -> None:
    page = analyst_page
    page.goto(live.url("/console/analyst?policy=bj-elderly-allowance&lang=en"))
    editor = page.locator("#document")
    editor.fill(editor.input_value().replace("age >= 80", "agee >= 80"))
    page.click("#run")
    problem = page.locator("ul.problems li").first
    assert "agee" in problem.inner_text() and ":" in problem.inner_text()


def _start_timeline(page: Any, url: str, **fields: int) -> None:
    """Open the analyst page at ``url``, fill the timeline form's ``fields``, start it."""
    page.goto(url)
    for name, value in fields.items():
        page.fill(f"#tl-{name}", str(value))
    page.click("#tl-start")


def test_an_analyst_starts_a_small_timeline_watches_it_and_sees_the_chart(
    analyst_page: Any, live: LiveWorld
) -> None:
    page = analyst_page
    _start_timeline(page, live.url("/console/analyst"), months=3, residents=500, seeds=2)
    page.wait_for_url("**/console/analyst/timeline/*")
    # Three months of two seeds take seconds: the page shows the bar, polls, then reloads.
    assert page.locator("#tl-progress").is_visible()
    page.wait_for_selector("#tl-result", timeout=180_000)
    charts = page.locator("#tl-result .charts svg")
    assert charts.count() == 3  # daily push load, funnel, take-up with vs without push
    assert charts.first.bounding_box()["width"] > 100
    assert "peak" in charts.first.inner_html()
    # spells, notified, read, applied, granted, complaints: benefits paid are not released
    assert page.locator("#tl-take-up tbody tr").count() == 6
    page.screenshot(path=str(Path(live.data_dir) / "timeline.png"), full_page=True)
    page.click("text=" + "返回政策推演")
    runs = page.locator("#timeline-runs tbody tr")
    assert runs.count() >= 1 and "analyst" in runs.first.inner_text()


def test_a_timeline_with_more_residents_than_the_population_says_so(
    analyst_page: Any, live: LiveWorld
) -> None:
    page = analyst_page
    _start_timeline(page, live.url("/console/analyst?lang=en"), residents=90_000)
    problem = page.locator("#tl-problem")
    assert "residents; ask for" in problem.inner_text() and "or fewer" in problem.inner_text()
