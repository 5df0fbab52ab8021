"""The 政策要素 form in chromium (issue 17): an officer authors 高龄津贴 without typing YAML —
basic facts, the mode in words, conditions as rows, the amount as a decision table whose tiers
read the parameter library (100/500/800 from elderly_allowance) — sees a tier in the wrong order
flagged on its row and fixed by moving it, and saves a draft that validates.  A policy the form
cannot show opens in the YAML editor with the note.  Screenshots of each step are kept under
test-artifacts/."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from profiles.schema import load_schema
from rules.evaluator import evaluate_benefit
from rules.language import parse_rule
from rules.loader import load_policy_text
from rules.store import PolicyStore
from tests.browser.conftest import ARTIFACTS, LiveWorld

POLICY = "bj-elderly-allowance-form"


def _shot(page: Any, step: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"policy-form-{step}.png"), full_page=True)


def _tier(page: Any, n: int) -> Any:
    return page.locator(f'#tiers > li[data-tier="{n}"]')


def _parameter_tier(page: Any, n: int, age: str, bracket: str) -> None:
    tier = _tier(page, n)
    tier.locator(".cond-rows [data-role=value]").first.fill(age)
    tier.locator("select[data-role=amount-kind]").select_option("p:elderly_allowance")
    _tier(page, n).locator("select[data-role=bracket]").select_option(bracket)


def test_an_officer_authors_the_elderly_allowance_through_the_form_alone(
    officer_page: Any, live: LiveWorld
) -> None:
    page = officer_page
    page.goto(live.url("/console/policies/new"))
    expect(page.locator("#tab-yaml")).to_have_attribute("aria-selected", "true")
    page.locator("#tab-form").click()  # remembered: the saved draft opens on the form
    expect(page.locator("#tab-form")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#code-editor")).to_be_hidden()
    panel = page.locator("#form-panel")
    _shot(page, "1-new")

    panel.locator("input[name=id]").fill(POLICY)
    panel.locator("input[name=title]").fill("高龄津贴（表单）")
    panel.locator("select[name=category]").select_option("养老")
    panel.locator("#form-mode").get_by_label("免申即享").check()
    conditions = page.locator("#form-conditions")
    # The new policy's template: 年龄 不低于 60 and 户籍城市 等于 北京市, as rows in Chinese.
    first = conditions.locator('.cond-rows > li[data-row="1"]')
    expect(first.locator("select[data-role=subject] option:checked")).to_have_text("年龄")
    expect(first.locator("select[data-role=operator] option:checked")).to_have_text("不低于")
    first.locator("[data-role=value]").fill("80")
    second = conditions.locator('.cond-rows > li[data-row="2"]')
    expect(second.locator("select[data-role=operator] option:checked")).to_have_text("等于")

    page.locator("input[name=amount-kind][value=table]").check()
    for _ in range(2):
        page.locator("#add-tier").click()
    # A row not yet filled in: said beside the amount, in Chinese, and nothing is written.
    expect(page.locator("#form-amount .form-error")).to_have_text(
        "第 1 档第 1 条：应为数字，例如 80 或 0.5，这里是空的"
    )
    expect(page.locator("#save-draft")).to_be_disabled()
    # In the wrong order first: 90 before 100; the 100 row is never reached.
    _parameter_tier(page, 1, "90", "90")
    _parameter_tier(page, 2, "100", "100")
    page.locator("#otherwise-none").uncheck()
    page.locator("select[name=otherwise-kind]").select_option("p:elderly_allowance")
    page.locator("select[name=otherwise-bracket]").select_option("80")
    problem = _tier(page, 2).locator(".tier-problem")
    expect(problem).to_contain_text("永远用不到")
    expect(problem).to_have_attribute("data-severity", "error")
    expect(page.locator("#validity")).to_have_class("bad")  # the YAML refuses it as well
    _shot(page, "2-tier-in-wrong-order")

    _tier(page, 2).locator(".tier-head").get_by_role("button", name="上移").click()
    expect(page.locator("#table-problems li")).to_have_count(0)
    expect(_tier(page, 1).locator(".cond-rows [data-role=value]")).to_have_value("100")
    page.locator("select[name=benefit_period]").select_option("month")
    panel.locator("input[name=summary]").fill(
        "您已年满80周岁且为本市户籍，高龄津贴将按月自动发放。"
    )
    panel.locator("input[name=contact]").fill("12345")
    panel.locator("input[name=objection_days]").fill("30")
    expect(page.locator("#form-status")).to_contain_text("已写入 YAML")
    expect(page.locator("#validity")).to_have_class("ok")
    expect(page.locator("#validity")).not_to_contain_text("提示")  # no warning either
    _shot(page, "3-filled")

    expect(page.locator("#save-draft")).to_be_enabled()
    page.locator("#save-draft").click()
    page.wait_for_url(f"**/console/policies/{POLICY}")
    expect(page.locator("#action-result")).to_contain_text("草稿")
    expect(page.locator("#tab-form")).to_have_attribute("aria-selected", "true")
    expect(_tier(page, 3)).to_have_count(0)
    _shot(page, "4-saved")

    saved = PolicyStore(live.engine).versions(POLICY)[-1]
    assert saved.status == "draft"
    policy = load_policy_text(saved.document, Path("draft.yaml"))
    assert policy.mode == "auto_grant" and policy.category == "养老"
    assert policy.eligibility == 'age >= 80 and hukou_city == "北京市"'
    assert policy.benefit == (
        "age >= 100 ? parameters.elderly_allowance[100] : "
        "(age >= 90 ? parameters.elderly_allowance[90] : parameters.elderly_allowance[80])"
    )
    assert policy.benefit_period == "month" and policy.objection_days == 30
    rule = parse_rule(policy.benefit, load_schema().resident, kind="benefit")
    amounts = [evaluate_benefit(rule, {"age": a}, as_of=date.today()) for a in (85, 95, 101)]
    assert amounts == [100, 500, 800]


def test_a_policy_the_form_cannot_show_opens_in_the_yaml_editor_with_a_note(
    officer_page: Any, live: LiveWorld
) -> None:
    page = officer_page
    page.goto(live.url("/console/policies/cn-rd-super-deduction"))
    expect(page.locator("#form-note")).to_contain_text("表单无法显示此政策")
    expect(page.locator("#tab-yaml")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#code-editor")).to_be_visible()
    _shot(page, "5-yaml-only")


def test_tags_with_their_descriptions_and_conditions_checked_at_application(
    officer_page: Any, live: LiveWorld
) -> None:
    page = officer_page
    page.goto(live.url("/console/policies/cn-childcare-subsidy"))
    page.locator("#tab-form").click()
    conditions = page.locator("#form-conditions")
    expect(conditions.locator(".cond-rows > li")).to_have_count(2)
    conditions.locator("[data-role=add-row]").first.click()
    row = conditions.locator('.cond-rows > li[data-row="3"]')
    row.locator("select[data-role=subject]").select_option("tags")
    expect(row.locator("select[data-role=operator] option:checked")).to_have_text("含标签")
    row.locator("select[data-role=value]").select_option(label="新生儿父母")
    expect(row.locator(".about")).not_to_be_empty()  # the tag library's description
    application = page.locator("#form-application textarea")
    application.fill("申请人未享受其他同类育儿补贴")
    expect(page.locator("#form-status")).to_contain_text("已写入 YAML")
    expect(page.locator("#validity")).to_have_class("ok")
    written = page.locator("#document").input_value()
    assert '"new_parent" in tags' in written
    assert "application_conditions:\n- 申请人未享受其他同类育儿补贴" in written
    _shot(page, "6-tag-and-application")

    page.locator("#form-mode").get_by_label("免申即享").check()
    error = page.locator("#form-application .form-error")
    expect(error).to_contain_text("免申即享政策没有申请环节")
    expect(page.locator("#save-draft")).to_be_disabled()
    assert "mode: auto_grant" not in page.locator("#document").input_value()  # nothing written
    _shot(page, "7-auto-grant-refused")


def test_the_form_speaks_english_on_request(page_as: Any, live: LiveWorld) -> None:
    page = page_as("officer", lang="en")
    page.goto(live.url("/console/policies/bj-elderly-allowance"))
    page.locator("#tab-form").click()
    first = page.locator('#form-conditions .cond-rows > li[data-row="1"]')
    expect(first.locator("select[data-role=subject] option:checked")).to_have_text("age")
    expect(first.locator("select[data-role=operator] option:checked")).to_have_text("at least")
    expect(page.locator("#form-mode")).to_contain_text("granted without applying")


def test_the_form_fits_a_phone_screen(page_as: Any, live: LiveWorld) -> None:
    page = page_as("officer", width=390, height=844)
    page.goto(live.url("/console/policies/bj-hardship-elderly-care-subsidy"))
    page.locator("#tab-form").click()
    # age, hukou and a group (低保/低收入 or 计生特殊家庭) of two rows: five rows in all
    expect(page.locator("#form-conditions .cond-rows > li")).to_have_count(5)
    panel = page.locator("#form-panel")
    overflow = panel.evaluate("(p) => p.scrollWidth - p.clientWidth")
    right = panel.evaluate("(p) => p.getBoundingClientRect().right")
    assert overflow == 0 and right <= 390, (overflow, right)  # nothing wider than the screen
    _shot(page, "8-phone")


def test_a_duplicate_declares_replaces_through_the_form_and_can_be_submitted(
    officer_page: Any, live: LiveWorld
) -> None:
    page = officer_page
    new, old, card = "bj-elderly-allowance-renewed", "bj-elderly-allowance", "bj-elderly-card"
    page.goto(live.url("/console/policies/new"))
    page.locator("#tab-form").click()
    panel = page.locator("#form-panel")
    panel.locator("input[name=id]").fill(new)
    panel.locator("input[name=title]").fill("高龄津贴（新版）")
    panel.locator("#form-mode").get_by_label("免申即享").check()
    first = page.locator('#form-conditions .cond-rows > li[data-row="1"]')
    first.locator("[data-role=value]").fill("80")  # 年龄 不低于 80 and 户籍城市 等于 北京市
    expect(page.locator("#document")).to_have_value(re.compile("age >= 80"))
    expect(page.locator("#validity")).to_have_class("ok")
    page.locator("#save-draft").click()
    page.wait_for_url(f"**/console/policies/{new}")
    # The same people as the published 高龄老年人津贴: the draft page says so.
    expect(page.locator(f'#draft-relations .duplicate[data-policy="{old}"]')).to_be_visible()

    relations = page.locator("#form-relations")
    expect(relations.locator("h3")).to_have_text("与已发布政策的关系")
    relations.locator("#add-relation").click()
    row = relations.locator('#relation-rows > li[data-relation="1"]')
    row.locator("select[data-role=relation-kind]").select_option(label="互斥")
    row.locator("select[data-role=relation-policy]").select_option(
        label=f"高龄老年人津贴（北京市民政局，{old}）"
    )
    # 互斥 asks which one a subject keeps; the larger annual benefit unless one is picked.
    wins = row.locator("select[data-role=relation-wins]")
    expect(wins.locator("option:checked")).to_have_text("年度待遇较高者")
    row.locator("select[data-role=relation-kind]").select_option(label="替代")
    expect(wins).to_have_count(0)  # only 互斥 asks
    expect(page.locator("#document")).to_have_value(
        re.compile(re.escape(f"relations:\n- replaces: {old}\n"))
    )
    # The duplicate notice's own button adds its line to the YAML; the form reads it back, and
    # its next write keeps it.
    notice = page.locator(f'#draft-relations .duplicate[data-policy="{card}"]')
    notice.locator('button.declare[data-kind="supplements"]').click()
    second = relations.locator('#relation-rows > li[data-relation="2"]')
    expect(second.locator("select[data-role=relation-kind] option:checked")).to_have_text("补充")
    expect(second.locator("select[data-role=relation-policy] option:checked")).to_have_text(
        f"北京通-养老助残卡申领（北京市民政局，{card}）"
    )
    panel.locator("input[name=contact]").fill("12345")
    expect(page.locator("#document")).to_have_value(re.compile("contact: '12345'"))
    expect(page.locator("#document")).to_have_value(
        re.compile(re.escape(f"relations:\n- replaces: {old}\n- supplements: {card}\n"))
    )
    expect(page.locator("#validity")).to_have_class("ok")
    _shot(page, "9-relations")

    page.locator("#submit-review").click()
    expect(page.locator('#versions tr[data-version="2"]')).to_have_attribute(
        "data-status", "in_review", timeout=60_000
    )
    submitted = load_policy_text(PolicyStore(live.engine).versions(new)[-1].document, Path("p"))
    assert [(r.kind, r.policy_id) for r in submitted.relations] == [
        ("replaces", old),
        ("supplements", card),
    ]
