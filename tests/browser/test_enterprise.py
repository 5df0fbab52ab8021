"""A firm's user sees its own firm's offers, asks why, and rates the service."""

from __future__ import annotations

from typing import Any

import polars as pl

from matcher.runs import RunStore
from notifier.receipts import ReceiptStore
from tests.browser.conftest import LiveWorld


def _firm_offers(live: LiveWorld) -> list[str]:
    run = RunStore(live.engine, live.data_dir).latest()
    assert run is not None
    pairs = pl.read_parquet(run.pairs_file)
    return pairs.filter(pl.col("subject_id") == live.enterprise_id)["policy_id"].to_list()


def test_an_enterprise_sees_its_offer_with_the_reason_and_rates_it(
    enterprise_page: Any, live: LiveWorld
) -> None:
    offers = _firm_offers(live)
    assert offers, "the enterprise user's firm has offers in the seeded run"
    page = enterprise_page
    page.goto(live.url("/console"))
    cards = page.locator("#offers article.offer")
    assert cards.count() == len(offers)
    first = cards.first
    policy = first.get_attribute("data-policy")
    assert policy in offers
    first.get_by_role("button", name="好 满意").click()
    page.wait_for_selector("p.ok")
    (rating,) = [r for r in ReceiptStore(live.engine).for_subject(live.enterprise_id)
                 if r.event == "rated"]  # fmt: skip
    assert (rating.policy_id, rating.rating) == (policy, "good")
    page.locator(f'#offers article.offer[data-policy="{policy}"] a').click()
    page.wait_for_url(f"**/console/why/{policy}")
    clauses = page.locator("ul.clauses li")
    assert clauses.count() >= 1
    text = page.locator("ul.clauses").inner_text()
    assert any(word in text for word in ("满足", "不满足", "未知"))


def test_an_enterprise_on_a_phone_reads_its_offers(phone_page_as: Any, live: LiveWorld) -> None:
    page = phone_page_as("enterprise")
    page.goto(live.url("/console"))
    assert page.locator("#offers article.offer").count() >= 1
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"
    page.screenshot(path=str(live.data_dir / "enterprise-390.png"), full_page=True)
    page.locator("#offers article.offer a").first.click()
    page.wait_for_selector("ul.clauses")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(live.data_dir / "enterprise-why-390.png"), full_page=True)
