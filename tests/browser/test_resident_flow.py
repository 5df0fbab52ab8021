"""A resident sees a newly published offer with its reason and switches SMS off (chromium)."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from notifier.contacts import ContactStore
from tests.browser.conftest import LiveWorld

POLICY = "bj-browser-offer"


def _publish(live: LiveWorld, eligibility: str) -> None:
    document = (
        f"id: {POLICY}\ntitle: 浏览器测试服务包\ntitle_en: Browser test service pack\n"
        "department: 北京市民政局\naudience: resident\nmode: proactive_push\n"
        f"eligibility: '{eligibility}'\nvalid_from: 2020-01-01\n"
    )
    with httpx.Client(base_url=live.base_url, timeout=30) as api:
        draft = api.post(
            "/api/v1/policies/drafts", json={"document": document}, headers=live.bearer("officer")
        )
        assert draft.status_code == 201, draft.text
        path = f"/api/v1/policies/{POLICY}/versions/{draft.json()['version']}"
        assert api.post(f"{path}/submit", headers=live.bearer("officer")).is_success
        approved = api.post(f"{path}/approve", headers=live.bearer("reviewer"))
        assert approved.json()["status"] == "published", approved.text


def test_a_resident_sees_the_new_offer_with_its_reason_and_opts_out_of_sms(
    resident_page: Any, live: LiveWorld
) -> None:
    me = live.resident()
    district, gender = me["residence_district"], me["gender"]
    assert district and gender, "the resident user should have a known district and gender"
    _publish(live, f'residence_district == "{district}" and gender == "{gender}"')
    live.rematch()

    page = resident_page
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(live.url("/console"))
    offer = page.locator(f"article.offer[data-policy={POLICY}]")
    expect(offer).to_contain_text("浏览器测试服务包")
    expect(offer).to_contain_text("符合条件")

    # Why: every clause in plain words, each met, with the resident's own values.
    offer.locator(f"a[href='/console/why/{POLICY}']").click()
    clauses = page.locator("ul.clauses li")
    expect(clauses).to_have_count(2)
    expect(page.locator("ul.clauses li.met")).to_have_count(2)
    expect(clauses.first).to_contain_text(f"居住区 为 “{district}”")

    # Opt out of SMS; the choice is kept and reaches the delivery contact points.
    page.goto(live.url("/console"))
    sms = page.locator("#preferences input[name=off_channel][value=sms]")
    expect(sms).not_to_be_checked()
    sms.check()
    page.locator("#preferences button").click()
    expect(page.locator("#preferences input[name=off_channel][value=sms]")).to_be_checked()
    contact = ContactStore(live.engine).load([live.resident_id])[live.resident_id]
    assert "sms" in contact.opt_out_channels
    assert contact.phone == "13800138000"  # the rest of the contact is kept
    assert errors == []
