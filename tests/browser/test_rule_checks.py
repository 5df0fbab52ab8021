"""The editor's live validation shows the rule checks (issue 17) in chromium: a never-true rule
is an error under its line, overlapping tiers a warning on a valid draft, and the field picker
offers an enum's values by their Chinese labels, which the rule accepts."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import LiveWorld


def _document(eligibility: str, benefit: str = "200") -> str:
    return (
        "id: bj-checks-allowance\n"
        "title: 校验测试津贴\n"
        "department: 北京市民政局\n"
        "audience: resident\n"
        "mode: proactive_push\n"
        f"eligibility: '{eligibility}'\n"
        f"benefit: '{benefit}'\n"
        "benefit_period: month\n"
        "valid_from: 2020-01-01\n"
    )


def test_a_never_true_rule_is_an_error_and_overlapping_tiers_a_warning(
    officer_page: Any, live: LiveWorld
) -> None:
    page = officer_page
    page.goto(live.url("/console/policies/new"))
    expect(page.locator("#validity")).to_have_class("ok")
    editor = page.locator("#document")

    editor.fill(_document("年龄>=80 and 年龄<80"))
    problem = page.locator("#problems li[data-severity=error]")
    expect(problem).to_contain_text("第 6 行第 26 列")
    expect(problem).to_contain_text("条件永远不成立")
    expect(page.locator("#validity")).to_have_class("bad")
    expect(page.locator("#submit-review")).to_be_disabled()

    # amounts no parameter holds: an amount equal to one is a warning of its own
    editor.fill(_document("年龄 >= 60", "残疾等级 <= 2 ? 333 : 退役军人 ? 222 : 111"))
    expect(page.locator("#validity")).to_have_class("ok")
    expect(page.locator("#validity")).to_contain_text("1 条提示")
    warning = page.locator("#problems li[data-severity=warning]")
    expect(warning).to_contain_text("提示：待遇金额：第 1 档与第 2 档有交叉")


def test_the_picker_offers_enum_values_by_label_and_the_rule_accepts_them(
    officer_page: Any, live: LiveWorld
) -> None:
    page = officer_page
    page.goto(live.url("/console/policies/new"))
    editor = page.locator("#document")
    editor.fill(_document("年龄 >= 60 and 社会救助类别 == "))
    page.locator("#field-search").fill("社会救助")
    values = page.locator("#field-list li[data-field=subsistence_status] .values button")
    expect(values).to_have_text(["无", "低保", "低收入", "特困"])
    text = editor.input_value()
    at = text.index("== ") + 3
    editor.evaluate("(a, at) => { a.focus(); a.setSelectionRange(at, at); }", at)
    values.nth(3).click()
    assert '社会救助类别 == "特困"' in editor.input_value()
    expect(page.locator("#validity")).to_have_class("ok")
