"""Review in chromium (issue 17): a duplicate is warned of and declared, the reviewer returns it
with a reason the author sees, then approves it, and the replaced policy is retired.

Each step's page is kept as a screenshot under ``test-artifacts/review-*.png``.
"""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, CATALOG, LiveWorld, PageFactory

OLD = "bj-elderly-allowance"
NEW = "bj-elderly-allowance-2026"
CARD = "bj-elderly-card"
TWIN = (
    (CATALOG / f"{OLD}.yaml")
    .read_text(encoding="utf-8")
    .replace(f"id: {OLD}", f"id: {NEW}")
    .replace("title: 高龄老年人津贴", "title: 高龄津贴（2026版）")
)


def _shot(page: Any, step: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"review-{step}.png"), full_page=True)


def _status(live: LiveWorld, policy_id: str) -> list[str]:
    with httpx.Client(base_url=live.base_url, headers=live.bearer("reviewer"), timeout=30) as api:
        return [v["status"] for v in api.get(f"/api/v1/policies/{policy_id}/versions").json()]


def test_a_duplicate_is_declared_returned_with_a_reason_approved_and_the_old_one_retired(
    page_as: PageFactory, live: LiveWorld
) -> None:
    officer = page_as("officer")
    errors: list[str] = []
    officer.on("pageerror", lambda err: errors.append(str(err)))

    # 1. The officer writes a 高龄津贴 reaching the same people as the published one: submitting
    # it is refused with the duplicate named and how to declare the relation.
    officer.goto(live.url("/console/policies/new"))
    officer.locator("#document").fill(TWIN)
    expect(officer.locator("#validity")).to_have_class("ok")
    officer.click("#submit-review")
    expect(officer.locator("#action-result")).to_contain_text("重复政策", timeout=60_000)
    expect(officer.locator("#action-result")).to_contain_text(OLD)
    _shot(officer, "1-duplicate-refused")
    assert _status(live, NEW) == ["draft"]

    # 2. The saved draft shows the duplicate prominently; the officer declares "replaces".
    officer.goto(live.url(f"/console/policies/{NEW}"))
    duplicate = officer.locator(f'#draft-relations .duplicate[data-policy="{OLD}"]')
    expect(duplicate).to_contain_text("覆盖人群完全相同")
    _shot(officer, "2-duplicate-warning")
    duplicate.locator('button.declare[data-kind="replaces"]').click()
    # Everyone it reaches holds the elderly card too (60 and over): that one it supplements.
    card = officer.locator(f'#draft-relations .duplicate[data-policy="{CARD}"]')
    expect(card).to_contain_text("覆盖人群包含于该政策")
    card.locator('button.declare[data-kind="supplements"]').click()
    expect(officer.locator("#document")).to_have_value(
        f"{TWIN}relations:\n  - replaces: {OLD}\n  - supplements: {CARD}\n"
    )
    expect(officer.locator("#validity")).to_have_class("ok")
    officer.click("#submit-review")
    expect(officer.locator('#versions tr[data-version="2"]')).to_have_attribute(
        "data-status", "in_review", timeout=60_000
    )
    assert _status(live, NEW) == ["draft", "in_review"]

    # 3. The reviewer finds it in the queue; the relation is the first thing on the page. A
    # return without a reason is refused; with one, it goes back to the author.
    reviewer = page_as("reviewer")
    reviewer.on("pageerror", lambda err: errors.append(str(err)))
    reviewer.goto(live.url("/console/review"))
    reviewer.locator(f'#review-queue tr[data-policy="{NEW}"] a.review-open').click()
    expect(reviewer.locator(f'#relations .relation[data-kind="replaces"][data-policy="{OLD}"]'))\
        .to_be_visible()  # fmt: skip
    expect(reviewer.locator("#review-document")).to_contain_text(f"replaces: {OLD}")
    assert reviewer.locator("textarea#document").count() == 0  # nothing to type into
    _shot(reviewer, "3-review")
    reviewer.click("#return")
    expect(reviewer.locator("#review-result")).to_have_class("error")
    assert _status(live, NEW)[-1] == "in_review"
    reviewer.locator("#return-reason").fill("请在 basis 中写明 2026 年的文号")
    reviewer.click("#return")
    reviewer.wait_for_url(live.url("/console/review"))
    assert _status(live, NEW)[-1] == "draft"

    # 4. The author sees the reason on the draft, and submits again.
    officer.goto(live.url(f"/console/policies/{NEW}"))
    expect(officer.locator("#return-notice")).to_contain_text("请在 basis 中写明 2026 年的文号")
    _shot(officer, "4-returned-with-reason")
    expect(officer.locator("#validity")).to_have_class("ok")
    officer.click("#submit-review")
    expect(officer.locator('#versions tr[data-version="2"]')).to_have_attribute(
        "data-status", "in_review", timeout=60_000
    )

    # 5. The reviewer checks what publishing will do, confirms, and approves.
    reviewer.goto(live.url(f"/console/review/{NEW}/2"))
    reviewer.click("#check-effect")
    expect(reviewer.locator("#effect dd").first).not_to_be_empty(timeout=60_000)
    expect(reviewer.locator("#effect")).to_contain_text(OLD)  # retired on publish
    dialogs: list[str] = []

    def accept(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    reviewer.on("dialog", accept)
    reviewer.click("#approve")
    expect(reviewer.locator("#review-title .status")).to_have_class(
        "status status-published", timeout=60_000
    )
    assert dialogs and OLD in dialogs[0]  # the confirmation said what ends
    _shot(reviewer, "5-approved")

    # 6. The old policy is retired: one 高龄津贴 is in force.
    assert _status(live, OLD)[-1] == "retired"
    reviewer.goto(live.url(f"/console/policies/{OLD}"))
    expect(reviewer.locator("#versions tbody tr").first).to_have_attribute("data-status", "retired")
    _shot(reviewer, "6-old-retired")
    with httpx.Client(base_url=live.base_url, headers=live.bearer("resident"), timeout=30) as api:
        listed = {p["policy_id"] for p in api.get("/api/v1/policies").json()}
    assert NEW in listed and OLD not in listed
    assert errors == []
