"""The 政策要素 form (rules.form, rules.conditions, rules.form_json): every catalog policy the
form can show round-trips through it to the same policy; rows read and write the rule
language; what the form cannot show, and what a form may not say, is refused with a reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from profiles.schema import load_schema
from rules.conditions import Condition, Conditions, GroupRow, ParameterRef, read_conditions
from rules.errors import FormError
from rules.evaluator import evaluate
from rules.form import Amount, PolicyForm, read_form, write_form
from rules.form_json import form_from_json, form_json
from rules.language import parse_rule
from rules.loader import CatalogError, check_policy_text, load_policy_text
from rules.tables import DecisionTable, Tier

SCHEMA = load_schema()
CATALOG = Path(__file__).resolve().parents[2] / "rules" / "catalog"
FILES = sorted(CATALOG.glob("*.yaml"))
# What the form cannot show in the built-in catalog, and why (arithmetic over fields, a
# pattern match, a field compared with a field, a count compared with an expression).
NOT_SHOWN = {
    "bj-layoff-stabilization-guidance",
    "cn-graduate-hire-subsidy",
    "cn-rd-super-deduction",
    "cn-startup-guaranteed-loan",
    "cn-unemployed-hire-tax-deduction",  # a row compares with a computed date (hired_on - 183)
}


def _canonical(policy_text: str) -> dict[str, object]:
    """A policy's keys with its rules as the checker reads them (ids, English names)."""
    policy = load_policy_text(policy_text, Path("p.yaml"))
    entity = SCHEMA.entity(policy.audience)
    values = policy.to_dict()
    values["eligibility"] = parse_rule(policy.eligibility, entity).text
    if policy.benefit:
        values["benefit"] = parse_rule(policy.benefit, entity, kind="benefit").text
    return values


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_catalog_policy_the_form_shows_round_trips(path: Path) -> None:
    text = path.read_text("utf-8")
    reading = read_form(text)
    if path.stem in NOT_SHOWN:
        assert reading.form is None
        assert "YAML" in reading.note and "YAML" in reading.note_zh
        return
    assert reading.form is not None, reading.note
    written = write_form(reading.form)
    assert _canonical(written) == _canonical(text)
    assert read_form(written).form == reading.form  # a fixed point
    assert written.startswith(text.split("\n", 1)[0])  # the source comment is kept


def test_the_form_shows_41_of_the_46_catalog_policies() -> None:
    shown = [p.stem for p in FILES if read_form(p.read_text("utf-8")).form is not None]
    assert len(FILES) == 46
    assert len(shown) == len(FILES) - len(NOT_SHOWN) == 41


ROWS = [
    'age >= 80 and hukou_city == "北京市"',
    '年龄 >= 80 and 户籍城市 == "北京市"',
    'not ("new_parent" in tags) and gender == "女"',
    'subsistence_status not in ["dibao", "tekun"] or is_veteran',
    "not is_veteran and (age < 18 or age > 60)",
    "is_veteran == false",
    "birth_date >= $today - 365",
    'birth_date < d"2000-01-01"',
    "household_income_per_capita < 2 * parameters.dibao_standard",
    'household.housing == "public_rental"',
    "household.any_member(age < 3)",
    "household.members_count(age >= 60 and disability_grade in [1, 2]) >= 2",
]
RECORDS = [
    {"age": 82, "hukou_city": "北京市", "gender": "female", "tags": ["new_parent"],
     "subsistence_status": "dibao", "is_veteran": False, "birth_date": date(1944, 1, 1),
     "household_income_per_capita": 900},
    {"age": 17, "hukou_city": "天津市", "gender": "male", "tags": [], "is_veteran": True,
     "subsistence_status": "none", "birth_date": date(2026, 1, 1),
     "household_income_per_capita": 5000},
    {"age": 61, "gender": "female", "tags": [], "subsistence_status": "tekun"},
    {},
]  # fmt: skip


@pytest.mark.parametrize("text", ROWS)
def test_rows_read_back_to_a_rule_that_decides_alike(text: str) -> None:
    rule = parse_rule(text, SCHEMA.resident)
    from rules.conditions import conditions_text

    again = parse_rule(conditions_text(read_conditions(rule.expression, "resident"), "resident"),
                       SCHEMA.resident)  # fmt: skip
    for record in RECORDS:
        as_of = date(2026, 6, 1)
        assert evaluate(again, record, as_of=as_of) == evaluate(rule, record, as_of=as_of)


def test_rows_say_operators_and_groups_as_written() -> None:
    rule = parse_rule(
        'not ("新生儿父母" in 标签) and (年龄 >= 60 or household.any_member(年龄 < 3))',
        SCHEMA.resident,
    )
    rows = read_conditions(rule.expression, "resident")
    assert rows.join == "all"
    assert rows.rows[0] == Condition("tags", "lacks_tag", "new_parent")
    inner = rows.rows[1]
    assert isinstance(inner, Conditions) and inner.join == "any"
    assert inner.rows[1] == GroupRow(
        "any_member", Conditions("all", (Condition("age", "lt", Decimal(3)),))
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("layoff_rate * employees >= 20", "field with a value"),
        ('industry_code !~ "^C"', "pattern match"),
        ("employees_sum(unemployment_insurance_months) > 100", "employees_sum"),
    ],
)
def test_what_rows_cannot_show_is_named(text: str, why: str) -> None:
    rule = parse_rule(text, SCHEMA.enterprise)
    with pytest.raises(FormError, match=why):
        read_conditions(rule.expression, "enterprise")


def _form(**changes: object) -> PolicyForm:
    base = PolicyForm(
        id="bj-form-test", title="高龄津贴", department="北京市民政局", audience="resident",
        mode="auto_grant", valid_from=date(2026, 1, 1),
        conditions=Conditions("all", (Condition("age", "ge", Decimal(80)),
                                      Condition("hukou_city", "eq", "北京市"))),
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def _age(n: int) -> Conditions:
    return Conditions("all", (Condition("age", "ge", Decimal(n)),))


def test_a_decision_table_of_parameters_writes_a_valid_policy() -> None:
    table = DecisionTable(
        (
            Tier(_age(100), ParameterRef("elderly_allowance", "100")),
            Tier(_age(90), ParameterRef("elderly_allowance", "90")),
        ),
        ParameterRef("elderly_allowance", "80"),
    )
    form = _form(amount=Amount("table", table=table), benefit_period="month")
    text = write_form(form)
    assert (
        "benefit: 'age >= 100 ? parameters.elderly_allowance[100] : (age >= 90 ? "
        "parameters.elderly_allowance[90] : parameters.elderly_allowance[80])'" in text
    )
    policy = load_policy_text(text, Path("p.yaml"))
    rule = parse_rule(policy.benefit or "", SCHEMA.resident, kind="benefit")
    from rules.evaluator import evaluate_benefit

    amounts = [evaluate_benefit(rule, {"age": a}, as_of=date(2026, 6, 1)) for a in (80, 95, 101)]
    assert amounts == [100, 500, 800]
    assert read_form(text).form == form
    # A bracket's key (the 100 of parameters.elderly_allowance[100]) is no amount written out.
    assert check_policy_text(text, Path("p.yaml")).warnings == ()


def test_conditions_at_application_are_refused_on_an_auto_grant() -> None:
    with pytest.raises(FormError, match="免申即享"):
        write_form(_form(application_conditions=("未享受其他同类补贴",)))
    text = write_form(_form(mode="fast_track", application_conditions=("未享受其他同类补贴",)))
    assert load_policy_text(text, Path("p.yaml")).application_conditions == ("未享受其他同类补贴",)
    typed = text.replace("mode: fast_track", "mode: auto_grant")
    with pytest.raises(CatalogError, match=r"auto_grant .*has no application"):
        load_policy_text(typed, Path("p.yaml"))


def test_an_amount_needs_its_period_and_a_category_comes_from_the_list() -> None:
    with pytest.raises(FormError, match="period"):
        write_form(_form(amount=Amount("fixed", fixed=Decimal(100))))
    with pytest.raises(FormError, match="category '养老服务' is not one of"):
        write_form(_form(category="养老服务"))


def test_the_form_travels_as_json_and_bad_parts_are_named() -> None:
    form = _form(
        amount=Amount("table", table=DecisionTable((Tier(_age(90), Decimal(500)),), Decimal(100))),
        benefit_period="month",
        materials=("身份证",),
    )
    assert form_from_json(form_json(form)) == form
    data = form_json(form)
    data["conditions"]["rows"][0]["value"] = {"number": "八十"}
    with pytest.raises(FormError, match="conditions row 1: expected a number"):
        form_from_json(data)
    with pytest.raises(FormError, match=r"all .全部满足. or any"):
        form_from_json({**form_json(form), "conditions": {"join": "some", "rows": []}})


def test_a_document_the_form_cannot_read_opens_with_a_note() -> None:
    reading = read_form("id: x\ntitle: [unclosed\n")
    assert reading.form is None and "YAML" in reading.note_zh
    text = (CATALOG / "bj-elderly-allowance.yaml").read_text("utf-8")
    reading = read_form(text.replace("mode: auto_grant", "mode: auto_grant  # 免申即享"))
    assert reading.lost == ("# 免申即享",)


def test_a_category_outside_the_fixed_list_is_a_warning_naming_the_nearest() -> None:
    text = (CATALOG / "bj-elderly-allowance.yaml").read_text("utf-8")
    checked = check_policy_text(
        text.replace("category: 养老", "category: 养老服务"), Path("p.yaml")
    )
    assert checked.policy is not None  # a warning: the policy still loads
    assert [(w.line, w.code) for w in checked.warnings] == [(10, "unknown_category")]
    assert "您是否要写“养老”？" in checked.warnings[0].in_language("zh")
    assert check_policy_text(text, Path("p.yaml")).warnings == ()


# A fast-track policy with every key of rules.policy.POLICY_KEYS the form reads, and a relation of
# each kind (excludes with and without wins), so writing the form back can drop none of them.
EVERY_KEY = """\
# modelled: a test document, not a real policy.
id: bj-every-key
title: 高龄津贴（新）
title_en: Allowance for residents aged 80 and over (new)
department: 北京市民政局
basis: 京民养老发〔2019〕160号
provenance: modelled
provenance_note: 金额为示例
audience: resident
unit: person
recipient: self
mode: fast_track
category: 养老
eligibility: 'age >= 80 and hukou_city == "北京市"'
application_conditions:
- 未享受其他同类补贴
benefit: '150'
benefit_period: month
valid_from: 2026-01-01
valid_until: 2027-12-31
summary: 您已年满80周岁。
summary_en: You are 80 or older.
materials:
- 身份证
where: 街道民政科
apply_url: https://example.org/apply
contact: '12345'
objection_days: 30
relations:
- replaces: bj-elderly-allowance
- supplements: bj-elderly-card
- excludes: bj-childcare-subsidy
  wins: bj-every-key
- excludes: bj-other
"""


def test_writing_the_form_back_keeps_every_key_and_each_relation() -> None:
    from rules.policy import POLICY_KEYS
    from rules.relations import Relation

    assert set(yaml.safe_load(EVERY_KEY)) == set(POLICY_KEYS)  # the document holds every key
    reading = read_form(EVERY_KEY)
    assert reading.form is not None, reading.note
    written = write_form(reading.form)
    assert _canonical(written) == _canonical(EVERY_KEY)
    assert load_policy_text(written, Path("p.yaml")).relations == (
        Relation("replaces", "bj-elderly-allowance"),
        Relation("supplements", "bj-elderly-card"),
        Relation("excludes", "bj-childcare-subsidy", wins="bj-every-key"),
        Relation("excludes", "bj-other"),
    )
    # and through the console's JSON
    assert write_form(form_from_json(form_json(reading.form))) == written


def test_a_relation_the_form_declares_is_written_and_a_wrong_one_is_named() -> None:
    from rules.relations import Relation

    replacing = _form(relations=(Relation("replaces", "bj-elderly-allowance"),))
    text = write_form(replacing)
    assert "relations:\n- replaces: bj-elderly-allowance\n" in text
    data = form_json(replacing)
    assert data["relations"] == [
        {"kind": "replaces", "policy_id": "bj-elderly-allowance", "wins": None}
    ]
    assert form_from_json(data) == replacing
    with pytest.raises(FormError, match="relation 1: choose replaces"):
        form_from_json({**data, "relations": [{"kind": "替代", "policy_id": "bj-a"}]})
    with pytest.raises(FormError, match="relation 1: pick the published policy"):
        form_from_json({**data, "relations": [{"kind": "excludes", "policy_id": ""}]})
    with pytest.raises(FormError, match="cannot replaces itself") as caught:
        write_form(_form(relations=(Relation("replaces", "bj-form-test"),)))
    assert caught.value.section == "relations"
    with pytest.raises(FormError, match="wins belongs to excludes"):
        write_form(_form(relations=(Relation("supplements", "bj-a", wins="bj-a"),)))
    with pytest.raises(FormError, match="names bj-form-test or bj-a"):
        write_form(_form(relations=(Relation("excludes", "bj-a", wins="bj-b"),)))
