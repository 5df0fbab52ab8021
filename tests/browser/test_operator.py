"""An operator sees a failed delivery on the dashboard and replays it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from api.app.audit import AuditLog
from notifier.outbox import Outbox
from notifier.tables import outbox
from tests.browser.conftest import LiveWorld


def _failed_row(live: LiveWorld, key: str = "browser-failed") -> int:
    with live.engine.begin() as conn:
        ids = Outbox.write(
            conn,
            [
                {
                    "idempotency_key": key, "subject_id": live.resident_id,
                    "subject_type": "resident", "channel": "sms", "address": "13800138000",
                    "locale": "zh", "purpose": "invitation", "payload": {"items": []},
                }
            ],
            now=datetime.now(UTC), max_attempts=3,
        )  # fmt: skip
        row_id = ids[key]
        conn.execute(
            sa.update(outbox).where(outbox.c.id == row_id)
            .values(status="failed", attempts=3, last_error="gateway answered 503")
        )  # fmt: skip
    return row_id


def test_an_operator_sees_a_failed_row_and_replays_it(operator_page: Any, live: LiveWorld) -> None:
    row_id = _failed_row(live)
    page = operator_page
    page.goto(live.url("/console/operator"))
    row = page.locator(f'article.failed-row[data-row="{row_id}"]')
    assert "gateway answered 503" in row.inner_text()
    assert "1380***8000" in row.inner_text() and "13800138000" not in page.content()
    row.get_by_role("button").click()
    page.wait_for_selector("p.ok")
    assert f"#{row_id}" in page.locator("p.ok").inner_text()
    assert page.locator(f'article.failed-row[data-row="{row_id}"]').count() == 0
    assert Outbox(live.engine).get(row_id).status == "pending"
    assert [e.action for e in AuditLog(live.engine).entries(entity_type="outbox")] == [
        "delivery.replay"
    ]


def test_the_dashboard_switches_to_english(operator_page: Any, live: LiveWorld) -> None:
    page = operator_page
    page.goto(live.url("/console/operator"))
    assert "推送运维" in page.locator("h1").inner_text()
    page.click("#lang-switch")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Delivery dashboard"


def test_the_dashboard_fits_a_phone_screen(phone_page_as: Any, live: LiveWorld) -> None:
    _failed_row(live, key="browser-failed-phone")
    page = phone_page_as("operator")
    page.goto(live.url("/console/operator"))
    assert page.locator("article.failed-row").count() >= 1
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px screen"
    page.screenshot(path=str(live.data_dir / "operator-390.png"), full_page=True)
