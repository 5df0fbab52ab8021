"""The officer console in chromium: write, fix, test, preview, submit; review and publish.

Each test drives the page as a person would (typing into the editor, clicking buttons) and
checks the outcome both on the page and through the API or the population itself.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import httpx
import polars as pl
from playwright.sync_api import expect

from profiles.derive import whole_years_between
from simulations.privacy import DEFAULT
from tests.browser.conftest import CATALOG, LiveWorld

# Padding and line height of the editor (static/editor.css): a line's box is known exactly.
PAD, LINE = 8, 20


def _document(policy_id: str, eligibility: str, department: str = "北京市民政局") -> str:
    return (
        f"id: {policy_id}\n"
        "title: 浏览器测试津贴\n"
        "title_en: Browser test allowance\n"
        f"department: {department}\n"
        "audience: resident\n"
        "mode: proactive_push\n"
        f"eligibility: '{eligibility}'\n"
        "benefit: '200'\n"
        "benefit_period: month\n"
        "valid_from: 2020-01-01\n"
        # Everyone 60 and over in Beijing holds the elderly card too: this one supplements it
        # (a draft inside a published policy declares how they stand, or cannot be submitted).
        "relations:\n"
        "  - supplements: bj-elderly-card\n"
    )


def _eligible_in_population(live: LiveWorld, min_age: int) -> int:
    """Residents with a Beijing hukou and at least ``min_age``, counted from the files."""
    people = pl.read_parquet(live.population / "residents.parquet")
    return sum(
        1
        for born, city in people.select("birth_date", "hukou_city").rows()
        if born is not None
        and city == "北京市"
        and whole_years_between(born, live.as_of) >= min_age
    )


def _create_in_review(live: LiveWorld, policy_id: str, eligibility: str, author: str) -> int:
    with httpx.Client(base_url=live.base_url, headers=live.bearer(author), timeout=30) as api:
        draft = api.post(
            "/api/v1/policies/drafts", json={"document": _document(policy_id, eligibility)}
        )
        assert draft.status_code == 201, draft.text
        version = int(draft.json()["version"])
        moved = api.post(f"/api/v1/policies/{policy_id}/versions/{version}/submit")
        assert moved.status_code == 200, moved.text
    return version


def _js_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    return errors


def test_an_officer_fixes_a_typo_previews_reach_and_submits(
    officer_page: Any, live: LiveWorld
) -> None:
    page = officer_page
    errors = _js_errors(page)
    page.goto(live.url("/console/policies/new"))
    expect(page.locator("#validity")).to_have_class("ok")  # the starting template is valid

    # The officer writes a rule with a typo: the problem appears under its line and column.
    text = _document("bj-browser-allowance", 'agee >= 70 and hukou_city == "北京市"')
    editor = page.locator("#document")
    editor.fill(text)
    line = text.splitlines().index(next(x for x in text.splitlines() if "agee" in x)) + 1
    col = text.splitlines()[line - 1].index("agee") + 1
    marker = page.locator("#markers .problem")
    expect(marker).to_have_count(1)
    expect(marker).to_contain_text("agee")
    expect(marker).to_have_attribute("data-line", str(line))
    expect(marker).to_have_attribute("data-col", str(col))
    box, area = marker.bounding_box(), editor.bounding_box()
    assert box is not None and area is not None
    line_bottom = area["y"] + 1 + PAD + line * LINE  # 1: the editor's border
    assert line_bottom - 2 <= box["y"] <= line_bottom + LINE, (box, line_bottom)
    prefix = area["x"] + 1 + PAD
    assert box["x"] > prefix + 5 * 7, "the marker starts near the column, not at the margin"
    expect(page.locator("#problems li")).to_contain_text(f"第 {line} 行第 {col} 列")
    expect(page.locator("#submit-review")).to_be_disabled()

    # It is fixed by typing over the typo.
    start = text.index("agee")
    editor.evaluate("(a, r) => { a.focus(); a.setSelectionRange(r[0], r[1]); }", [start, start + 4])
    page.keyboard.type("age")
    expect(page.locator("#validity")).to_have_class("ok")
    expect(page.locator("#markers .problem")).to_have_count(0)
    expect(page.locator("#submit-review")).to_be_enabled()

    # The reach preview counts the population the server holds, with bars by group; each
    # figure carries the published noise (within the interval it leaves once in a million).
    page.click("#preview-reach")
    expected = _eligible_in_population(live, 70)
    assert expected >= 10, "the test population should give a count that is not suppressed"
    expect(page.locator("#reach-eligible")).to_have_text(re.compile(r"^(\d+|<10)$"),
                                                         timeout=60_000)  # fmt: skip
    shown = page.locator("#reach-eligible").inner_text()
    assert shown != "<10" and abs(int(shown) - expected) <= DEFAULT.count_scale * 14
    expect(page.locator("#reach-cost")).to_contain_text(".")
    assert page.locator("#reach-result .bars .row").count() >= 2
    expect(page.locator("#overlaps")).to_be_visible()

    # The test panel shows each clause for a typed profile.
    page.locator("#test-profile").fill("年龄: 71\n户籍城市: 北京市")
    page.click("#run-test")
    expect(page.locator("#test-status")).to_have_attribute("data-status", "eligible")
    expect(page.locator("#test-result tbody tr")).to_have_count(2)
    page.locator("#test-profile").fill("年龄: 71")
    page.click("#run-test")
    expect(page.locator("#test-status")).to_have_attribute("data-status", "maybe")
    expect(page.locator("#test-result tbody tr[data-value=unknown]")).to_have_count(1)

    # Submitting stores the draft and sends it for review.
    page.locator("#note").fill("70 岁起")
    page.click("#submit-review")
    expect(page).to_have_url(live.url("/console/policies/bj-browser-allowance"))
    expect(page.locator("#action-result")).to_contain_text("审核中")
    expect(page.locator("#versions tr[data-status=in_review]")).to_have_count(1)
    versions = httpx.get(
        live.url("/api/v1/policies/bj-browser-allowance/versions"),
        headers=live.bearer("reviewer"), timeout=30,
    ).json()  # fmt: skip
    assert [(v["status"], v["author"], v["change_note"]) for v in versions] == [
        ("in_review", "officer", "70 岁起")
    ]
    # The officer cannot approve: the button is not there for the role.
    expect(page.locator("#approve")).to_have_count(0)
    assert errors == []


def test_typing_a_field_name_offers_the_schemas_chinese_names(
    officer_page: Any, live: LiveWorld
) -> None:
    page = officer_page
    page.goto(live.url("/console/policies/new"))
    expect(page.locator("#validity")).to_have_class("ok")
    editor = page.locator("#document")
    text = editor.input_value()
    end = text.index("' ", text.index("eligibility")) if "' " in text else None
    end = text.index("'\n", text.index("eligibility"))
    editor.evaluate("(a, at) => { a.focus(); a.setSelectionRange(at, at); }", end)
    page.keyboard.type(" and 家庭人")
    options = page.locator("#suggest li")
    expect(options.first).to_be_visible()
    expect(page.locator("#suggest li[data-field=household_size]")).to_contain_text("家庭人口数")
    while page.locator("#suggest li[aria-selected=true]").get_attribute("data-field") != (
        "household_size"
    ):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.keyboard.type(" >= 3")
    assert "and 家庭人口数 >= 3'" in editor.input_value()
    expect(page.locator("#validity")).to_have_class("ok")

    # The picker inserts a field at the caret too, and an enum's values.
    page.locator("#field-search").fill("就业")
    page.locator("#field-list li[data-field=employment_status] button.field").click()
    assert "家庭人口数 >= 3就业状态" in editor.input_value()


def test_a_reviewer_sees_who_gains_then_approves_and_publishes(
    reviewer_page: Any, live: LiveWorld
) -> None:
    allowance = (CATALOG / "bj-elderly-allowance.yaml").read_text(encoding="utf-8")
    reform = allowance.replace("age >= 80 and", "age >= 75 and")
    with httpx.Client(base_url=live.base_url, headers=live.bearer("officer"), timeout=30) as api:
        draft = api.post("/api/v1/policies/drafts", json={"document": reform, "note": "75 岁起"})
        version = int(draft.json()["version"])
        assert api.post(
            f"/api/v1/policies/bj-elderly-allowance/versions/{version}/submit"
        ).is_success
    page = reviewer_page
    errors = _js_errors(page)
    page.goto(live.url("/console/policies"))
    row = page.locator("tr[data-policy=bj-elderly-allowance]")
    expect(row.locator(".status").first).to_have_attribute("data-status", "in_review")
    row.locator("a").click()
    expect(page.locator("#four-eyes")).to_be_hidden()
    expect(page.locator("#diff .del")).to_contain_text("age >= 80")
    expect(page.locator("#diff .add")).to_contain_text("age >= 75")

    # Who gains: the Beijing residents aged 75 to 79, counted from the population itself.
    gains = _eligible_in_population(live, 75) - _eligible_in_population(live, 80)
    page.click("#preview-reach")
    expect(page.locator("#gains")).to_have_text(re.compile(r"^新增符合 (\d+|<10)$"),
                                                timeout=60_000)  # fmt: skip
    gained = page.locator("#gains").inner_text().removeprefix("新增符合 ")
    assert gained == "<10" or abs(int(gained) - gains) <= DEFAULT.count_scale * 14
    expect(page.locator("#loses")).to_have_text(re.compile(r"^不再符合 (\d+|<10)$"))

    # Approving happens on the review page: confirmed, then published.
    page.click("#approve")
    expect(page).to_have_url(live.url(f"/console/review/bj-elderly-allowance/{version}"))
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#approve")
    expect(page.locator(f"#versions tr[data-version='{version}']")).to_have_attribute(
        "data-status", "published", timeout=60_000
    )
    page.goto(live.url("/console/policies/bj-elderly-allowance"))
    published = httpx.get(
        live.url("/api/v1/policies/bj-elderly-allowance"), headers=live.bearer("analyst"),
        timeout=30,
    )  # fmt: skip
    assert published.json()["eligibility"].startswith("age >= 75 and")
    # The published version can be retired from the same page; nothing is left to approve.
    expect(page.locator("#retire")).to_be_visible()
    expect(page.locator("#approve")).to_be_hidden()
    assert errors == []


def test_the_author_cannot_approve_their_own_version(page_as: Any, live: LiveWorld) -> None:
    _create_in_review(live, "bj-browser-own", "age >= 96", "admin")
    page = page_as("admin")
    page.goto(live.url("/console/policies/bj-browser-own"))
    expect(page.locator("#approve")).to_be_disabled()
    expect(page.locator("#four-eyes")).to_be_visible()
    expect(page.locator("#four-eyes")).to_contain_text("双人复核")


def test_the_policy_list_shows_status_and_reach_in_english_on_a_phone(
    phone_page_as: Any, live: LiveWorld
) -> None:
    page = phone_page_as("analyst", lang="en")
    page.goto(live.url("/console/policies"))
    row = page.locator("tr[data-policy=bj-elderly-card]")
    expect(row.locator(".status")).to_have_text("published")
    reach = row.locator("td.reach").inner_text()
    assert re.fullmatch(r"<10|\d+", reach)
    # An analyst reads the list but gets no editor links; the page fits the phone's width.
    expect(row.locator("a")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    assert date.today().isoformat() in page.locator(".hint").inner_text()


def test_the_editor_is_refused_to_residents(resident_page: Any, live: LiveWorld) -> None:
    response = resident_page.goto(live.url("/console/policies/new"))
    assert response is not None and response.status == 403


def test_the_header_leads_an_officer_from_the_console_to_the_policy_list(
    officer_page: Any, live: LiveWorld
) -> None:
    page = officer_page
    page.goto(live.url("/console"))
    page.locator("header nav a[href='/console/policies']").click()
    expect(page).to_have_url(live.url("/console/policies"))
    page.locator("#new-policy").click()
    expect(page.locator("#validity")).to_have_class("ok")


def test_the_editor_speaks_english_on_request(page_as: Any, live: LiveWorld) -> None:
    page = page_as("officer", lang="en")
    page.goto(live.url("/console/policies/new"))
    expect(page.locator("#validity")).to_contain_text("Valid")
    editor = page.locator("#document")
    editor.fill(editor.input_value().replace("mode: proactive_push", "mode: proactive"))
    expect(page.locator("#problems li")).to_contain_text("line 6, column")
    expect(page.locator("#submit-review")).to_have_text("Submit for review")


def test_the_test_panel_reads_a_subject_with_sensitive_values_masked(
    officer_page: Any, live: LiveWorld
) -> None:
    page = officer_page
    page.goto(live.url("/console/policies/new"))
    editor = page.locator("#document")
    rule = "age >= 18 and monthly_income < 999999999"
    editor.fill(_document("bj-browser-masked", rule))
    expect(page.locator("#validity")).to_have_class("ok")
    page.locator("input[name=test-mode][value=subject]").check()
    expect(page.locator("#test-profile")).to_be_hidden()
    page.locator("#test-subject").fill(live.resident_id)
    page.click("#run-test")
    status = page.locator("#test-status")
    expect(status).to_be_visible()
    shown = page.locator("#test-result").inner_text()
    assert live.resident_id not in shown
    assert live.resident_id[:4] in status.inner_text()  # the id masked: its ends kept
    income = live.resident()["monthly_income"]
    row = page.locator("#test-result tbody tr").nth(1)
    expect(row).to_contain_text("月收入 = " + ("?" if income is None else "***"))
    if income is not None and income >= 1000:
        assert f"{income:g}" not in shown and f"{income:.1f}" not in shown
