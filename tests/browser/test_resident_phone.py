"""Resident pages on a 390 px phone (chromium): no horizontal scroll on any of them, amounts
with their period, the conditions checked at application shown, errors beside their field, and
an officer's answer to an objection read by the resident.  Screenshots of each step are kept
under test-artifacts/ (resident-phone-*.png)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from playwright.sync_api import expect

from notifier.channels.inbox import inbox_messages
from notifier.grants import GrantStore
from notifier.tables import application_drafts
from rules.store import PolicyStore
from tests.browser.conftest import ARTIFACTS, LiveWorld, PageFactory

POLICY = "bj-phone-meals"
CONDITIONS = ("本人未入住养老机构", "本人同意补贴发放至北京通-养老助残卡")
TOKEN = "phone-meals-token"
LONG_LINK = "https://zhida.example.gov.cn/m/" + "a1b2c3d4" * 12  # the 679 px page of issue 17


def _publish(live: LiveWorld, district: str) -> None:
    conditions = "".join(f"  - {c}\n" for c in CONDITIONS)
    document = (
        f"id: {POLICY}\ntitle: 社区助餐补贴\ntitle_en: Community meal subsidy\n"
        "department: 北京市民政局\naudience: resident\nmode: fast_track\n"
        f"eligibility: 'residence_district == \"{district}\"'\nbenefit: '200'\n"
        "benefit_period: month\nvalid_from: 2020-01-01\n"
        "summary: 在社区养老助餐点用餐，每月补贴200元。\nmaterials: [身份证]\n"
        "where: 居住地街道（乡镇）民政科\n"
        f"application_conditions:\n{conditions}"
    )
    # Published through the store: this test is about the resident's pages, not the review
    # (tests/browser/test_officer_console.py and the review's own tests drive that).
    store = PolicyStore(live.engine)
    version = store.draft(document, author="officer", note="phone test")
    store.submit(POLICY, version)
    store.publish(POLICY, version, reviewer="reviewer")


def _seed(live: LiveWorld) -> int:
    """A pre-filled application, a grant open to objection, and an inbox message with a long
    link, for the resident user; returns the grant's id."""
    now = datetime.now(UTC)
    today = date.today()
    with live.engine.begin() as conn:
        conn.execute(
            application_drafts.insert().values(
                token=TOKEN, subject_id=live.resident_id, policy_id=POLICY, policy_version="1",
                fields=json.dumps({}), created_at=now.replace(tzinfo=None),
            )
        )  # fmt: skip
        GrantStore.open(
            conn, subject_id=live.resident_id, subject_type="resident",
            policy_id="bj-elderly-allowance", policy_version="1", benefit=Decimal(100),
            benefit_period="month", start=today, objection_until=today + timedelta(days=30),
            department="北京市民政局", evidence={"clauses": []}, notice_key="phone-grant",
            now=now,
        )  # fmt: skip
        conn.execute(
            inbox_messages.insert().values(
                idempotency_key="phone-long-link", subject_id=live.resident_id,
                subject_type="resident", policy_ids=POLICY, locale="zh", title="社区助餐补贴",
                body=f"详情：{LONG_LINK}", created_at=now.replace(tzinfo=None),
            )
        )  # fmt: skip
    return GrantStore(live.engine).of(live.resident_id)[-1].id


def _fits(page: Any, name: str) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"resident-phone-{name}.png"), full_page=True)
    assert width <= 390, f"{name}: the page is {width} px wide on a 390 px screen"


def test_every_resident_page_fits_a_phone_with_periods_conditions_and_errors_beside_fields(
    phone_page_as: PageFactory, page_as: PageFactory, live: LiveWorld
) -> None:
    district = live.resident()["residence_district"]
    assert district, "the resident user should have a known district"
    _publish(live, district)
    live.rematch()
    grant = _seed(live)
    page = phone_page_as("resident")
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))

    # The message centre: the offer's amount with its period, the long link wrapped.
    page.goto(live.url("/console"))
    offer = page.locator(f"article.offer[data-policy={POLICY}]")
    expect(offer).to_contain_text("200 元/月")
    expect(page.locator(f"article.grant[data-grant='{grant}']")).to_contain_text("100 元/月")
    expect(page.locator("#inbox")).to_contain_text(LONG_LINK)
    _fits(page, "1-centre")

    # Why: the policy's text and the conditions checked at application.
    offer.locator(f"a[href='/console/why/{POLICY}']").click()
    says = page.locator(".policy-says")
    for condition in CONDITIONS:
        expect(says.locator("ul.conditions")).to_contain_text(condition)
    expect(says).to_contain_text("居住地街道（乡镇）民政科")
    _fits(page, "2-why")

    # The pre-filled application: one condition left unticked is said beside it.
    page.goto(live.url("/console"))
    page.locator(f"#applications a[href='/console/apply/{TOKEN}']").click()
    expect(page.locator(".benefit")).to_contain_text("200 元/月")
    expect(page.locator("#filled dl.filled")).to_contain_text("居住区")
    page.locator("input[name=confirm][value='0']").check()
    page.locator("#confirm button.primary").click()
    beside = page.locator("#condition-error-1")
    expect(beside).to_contain_text("请确认这一条")
    expect(beside).to_be_in_viewport()
    expect(page.locator("#condition-error-0")).to_have_count(0)
    expect(page.locator("input[name=confirm][value='0']")).to_be_checked()
    _fits(page, "3-application-unticked")
    page.locator("input[name=confirm][value='1']").check()
    page.locator("#confirm button.primary").click()
    expect(page.locator("p.confirmed")).to_contain_text("您已于此日确认提交")
    _fits(page, "4-application-confirmed")

    # An empty objection is answered beside its box, in Chinese, the form open.
    page.goto(live.url("/console#grants"))
    card = page.locator(f"article.grant[data-grant='{grant}']")
    card.locator("summary").click()
    card.locator("button[name=kind][value=objection]").click()
    card = page.locator(f"article.grant[data-grant='{grant}']")
    expect(card.locator(f"#objection-error-{grant}")).to_contain_text("请写明哪里有误")
    expect(card.locator(f"#objection-error-{grant}")).to_be_in_viewport()  # not 2,000 px away
    _fits(page, "5-objection-empty")
    card.locator("textarea[name=text]").fill("我已入住养老机构，不应领取。")
    card.locator("button[name=kind][value=objection]").click()
    expect(page.locator("p.ok")).to_contain_text("异议已提交")

    # The department's officer answers it; the resident reads the answer under the grant.
    officer = page_as("officer")
    officer.goto(live.url("/console/objections"))
    item = officer.locator("article.objection").filter(has_text="我已入住养老机构")
    item.locator("textarea[name=text]").fill("已核实，自下月起停发，无需退还。")
    item.locator("button.primary").click()
    expect(officer.locator("p.ok")).to_contain_text("答复已发送")
    page.goto(live.url("/console#grants"))
    thread = page.locator(f"article.grant[data-grant='{grant}'] .thread")
    expect(thread).to_contain_text("已核实，自下月起停发，无需退还。")
    _fits(page, "6-answer")
    assert errors == []
