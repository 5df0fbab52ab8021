"""An officer dry-runs a parameter change from the policy editor, in a real browser."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import LiveWorld


def test_an_officer_previews_a_parameter_change_and_reads_the_library(
    officer_page: Any, live: LiveWorld
) -> None:
    page = officer_page
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(live.url("/console/policies/bj-elderly-allowance"))

    # A misspelt parameter is refused with the nearest name, before anything runs.
    page.locator("#parameter-changes").fill("高龄津帖[90]=600")
    page.click("#preview-reach")
    expect(page.locator("#reach-result .error")).to_contain_text("高龄津贴", timeout=60_000)

    # The change in Chinese is simulated with the published policy, and said so.
    page.locator("#parameter-changes").fill("高龄津贴[90]=600")
    page.click("#preview-reach")
    expect(page.locator("#reach-parameters")).to_contain_text("高龄津贴[90]=600", timeout=60_000)
    expect(page.locator("#reach-cost")).to_contain_text(".")

    # The editor links the policy's parameters: each value with its source.
    page.click("#policy-parameters")
    expect(page.locator("#parameter-elderly_allowance")).to_contain_text("京民养老发〔2019〕160号")
    assert errors == []
