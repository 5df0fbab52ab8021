"""The 政策要素 form: a policy as an officer fills it in, written to and read from its YAML.

The YAML stays the source of truth.  :func:`write_form` writes a form as a policy document
(the eligibility as rows of ``rules.conditions``, the amount as a fixed sum, a decision table of
``rules.tables`` or a formula); :func:`read_form` reads a document back into a form, or says why
the form cannot show it (:class:`FormReading` ``.note``), and the console then opens the YAML
editor with that note.  Every value the form offers has its words: the mode (免申即享 …), the
period (每月 …), the unit (每人 …), the categories (a fixed list, so opt-outs do not split).

>>> from pathlib import Path
>>> text = (Path(__file__).parent / "catalog" / "bj-elderly-allowance.yaml").read_text("utf-8")
>>> reading = read_form(text)
>>> form = reading.form
>>> form.mode, MODE_WORDS[form.mode][0], form.amount.kind, form.amount.fixed
('auto_grant', '免申即享', 'fixed', ParameterRef(name='elderly_allowance', index='age', times=None))
>>> read_form(write_form(form)).form == form
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Literal

import yaml

from core.safe_yaml import RefusedYamlError, load_document
from profiles.schema import Schema, load_schema
from rules.conditions import Conditions, conditions_text, read_conditions
from rules.errors import FormError, PositionedRuleError
from rules.language import parse_rule
from rules.policy import (
    AUDIENCES,
    BENEFIT_PERIODS,
    CATEGORIES,
    MODES,
    POLICY_KEYS,
    RECIPIENTS,
    UNITS,
)
from rules.relations import KINDS as RELATION_KINDS
from rules.relations import Relation, read_relations
from rules.tables import AmountValue, DecisionTable, amount_text, read_amount_value, read_table
from rules.tables import table_text as _table_text

__all__ = [
    "AUDIENCE_WORDS",
    "MODE_WORDS",
    "PERIOD_WORDS",
    "RECIPIENT_WORDS",
    "RELATION_WORDS",
    "UNIT_WORDS",
    "Amount",
    "FormReading",
    "PolicyForm",
    "benefit_text",
    "read_form",
    "write_form",
]

MODE_WORDS: Final = {
    "auto_grant": ("免申即享", "granted without applying"),
    "proactive_push": ("服务找人", "told and invited to apply"),
    "fast_track": ("直达快享", "a pre-filled application to confirm"),
}
PERIOD_WORDS: Final = {
    "once": ("一次性", "once"),
    "month": ("每月", "a month"),
    "year": ("每年", "a year"),
}
UNIT_WORDS: Final = {
    "person": ("每人", "per person"),
    "household": ("每户", "per household"),
    "enterprise": ("每家企业", "per enterprise"),
}
RECIPIENT_WORDS: Final = {
    "self": ("本人", "the subject"),
    "head": ("户主（或家庭联系人）", "the household's head (or contact)"),
    "guardian": ("一位监护人（每孩一次）", "one guardian, once per child"),
}
# How a policy stands to a published one (rules.relations), as the form's section says it.
RELATION_WORDS: Final = {
    "replaces": ("替代", "replaces (it is retired on publishing)"),
    "supplements": ("补充", "supplements (both apply)"),
    "excludes": ("互斥", "excludes (a subject gets one of the two)"),
}
AUDIENCE_WORDS: Final = {
    "resident": ("居民", "residents"),
    "enterprise": ("企业", "enterprises"),
    "household": ("家庭", "households"),
}


@dataclass(frozen=True)
class Amount:
    """What a subject gets: nothing, a fixed sum (a number or a parameter), a decision table,
    or a formula in the rule language."""

    kind: Literal["none", "fixed", "table", "formula"] = "none"
    fixed: AmountValue | None = None
    table: DecisionTable | None = None
    formula: str | None = None


@dataclass(frozen=True)
class PolicyForm:
    id: str
    title: str
    department: str
    audience: str
    mode: str
    conditions: Conditions
    valid_from: date
    amount: Amount = Amount()
    benefit_period: str | None = None
    title_en: str | None = None
    basis: str | None = None
    category: str | None = None
    unit: str | None = None
    recipient: str | None = None
    application_conditions: tuple[str, ...] = ()
    valid_until: date | None = None
    summary: str | None = None
    summary_en: str | None = None
    materials: tuple[str, ...] = ()
    where: str | None = None
    apply_url: str | None = None
    contact: str | None = None
    objection_days: int | None = None
    provenance: str | None = None  # cited | modelled, kept as the document has it
    provenance_note: str | None = None
    # 与已发布政策的关系: replaces / supplements / excludes (and which wins), in the YAML's order
    relations: tuple[Relation, ...] = ()
    comment: str = ""  # the document's leading comment (its source: "# cited: …"), kept


@dataclass(frozen=True)
class FormReading:
    """A document read for the form: the form, or None and the note saying why not; ``lost``
    says what writing the form back would drop (comments beside keys)."""

    form: PolicyForm | None
    note: str = ""
    note_zh: str = ""
    lost: tuple[str, ...] = field(default=())


_TEXT: Final = (
    "title_en", "basis", "category", "unit", "recipient", "summary", "summary_en", "where",
    "apply_url", "contact", "provenance", "provenance_note",
)  # fmt: skip


def read_form(text: str, schema: Schema | None = None) -> FormReading:
    """The form of a policy document, or why the form cannot show it."""
    schema = schema or load_schema()
    try:
        _, data = load_document(text)
    except (RefusedYamlError, yaml.YAMLError) as exc:
        return _cannot(f"the YAML does not read ({str(exc).splitlines()[0]})", "YAML 无法读取")
    if not isinstance(data, dict):
        return _cannot("the document is not a mapping of keys", "文档不是键值映射")
    unknown = [k for k in data if k not in POLICY_KEYS]
    if unknown:
        return _cannot(f"unknown keys: {', '.join(map(str, unknown))}", "有表单不认识的键")
    missing = [k for k in ("id", "title", "department", "audience", "mode", "eligibility")
               if not isinstance(data.get(k), str) or not data[k]]  # fmt: skip
    if missing or not isinstance(data.get("valid_from"), date):
        missing += [] if isinstance(data.get("valid_from"), date) else ["valid_from"]
        return _cannot(f"missing or not text: {', '.join(missing)}", "缺少必填项")
    audience = data["audience"]
    if audience not in AUDIENCES or audience not in schema.entities:
        return _cannot(f"audience {audience!r} is not one of the schema's", "服务对象不正确")
    entity = schema.entity(audience)
    try:
        eligibility = parse_rule(data["eligibility"], entity, schema=schema)
        conditions = read_conditions(eligibility.expression, audience)
        amount = _read_amount(data.get("benefit"), audience, schema)
    except PositionedRuleError as exc:
        return _cannot(f"a rule has an error: {exc.in_language('en')}", "规则有错误")
    except FormError as exc:
        return _cannot(exc.message, "条件超出表单能表示的范围", exc.zh)
    values: dict[str, Any] = {k: data.get(k) for k in _TEXT if data.get(k) is not None}
    lists: dict[str, Any] = {}
    for key in ("materials", "application_conditions"):
        items = data.get(key) or []
        if not isinstance(items, list) or any(isinstance(i, list | dict) for i in items):
            return _cannot(f"{key} is not a list of texts", "清单格式不正确")
        lists[key] = tuple(str(i) for i in items)
    relations, problem = read_relations(data.get("relations"))
    if problem is not None:
        return _cannot(problem, "与已发布政策的关系写法不正确")
    form = PolicyForm(
        id=data["id"], title=data["title"], department=data["department"], audience=audience,
        mode=data["mode"], conditions=conditions, valid_from=data["valid_from"], amount=amount,
        benefit_period=data.get("benefit_period"), valid_until=data.get("valid_until"),
        objection_days=data.get("objection_days"), relations=relations,
        comment=_leading_comment(text), **values, **lists,
    )  # fmt: skip
    lost = _inline_comments(text)
    return FormReading(form, lost=lost)


def _cannot(reason: str, zh: str, zh_reason: str | None = None) -> FormReading:
    return FormReading(
        None,
        note=f"The form cannot show this policy ({reason}); edit it in the YAML editor.",
        note_zh=f"表单无法显示此政策（{zh}：{zh_reason or reason}），请在 YAML 编辑器中修改。",
    )


def _read_amount(benefit: Any, audience: str, schema: Schema) -> Amount:
    if benefit is None or benefit == "":
        return Amount()
    if not isinstance(benefit, str | int | float):
        raise FormError("benefit must be an amount or an expression")
    text = str(benefit)
    rule = parse_rule(text, schema.entity(audience), kind="benefit", schema=schema)
    fixed = read_amount_value(rule.expression)
    if fixed is not None:
        return Amount("fixed", fixed=fixed)
    table = read_table(rule.expression, audience)
    if table is not None:
        return Amount("table", table=table)
    return Amount("formula", formula=text)


def _leading_comment(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def _inline_comments(text: str) -> tuple[str, ...]:
    """Comments after the leading block (beside keys or list items): the form drops them."""
    lines = text.splitlines()
    start = len(_leading_comment(text).splitlines())
    found = []
    for line in lines[start:]:
        stripped = line.strip()
        if stripped.startswith("#"):
            found.append(stripped)
            continue
        try:
            parsed = yaml.safe_load(line) if ":" in line or stripped.startswith("-") else None
        except yaml.YAMLError:
            parsed = None
        if " #" in line and parsed is not None and "#" not in json.dumps(parsed):
            found.append(line[line.index(" #") + 1 :].strip())
    return tuple(found)


def benefit_text(form: PolicyForm) -> str | None:
    """The amount in the rule language (None: no amount)."""
    a = form.amount
    if a.kind == "none":
        return None
    if a.kind == "fixed":
        if a.fixed is None:
            raise FormError(
                "the fixed amount is missing: type a number or pick a parameter",
                zh="缺少固定金额：请填写数额或选择参数",
                section="amount",
            )
        return amount_text(a.fixed)
    if a.kind == "table":
        if a.table is None:
            raise FormError(
                "the decision table is missing its rows", zh="决策表还没有档位", section="amount"
            )
        return _table_text(a.table, form.audience)
    if not a.formula or not a.formula.strip():
        raise FormError(
            "the formula is empty: write one, or choose a fixed amount",
            zh="公式为空：请填写公式，或改选固定金额",
            section="amount",
        )
    return a.formula


def write_form(form: PolicyForm) -> str:
    """The policy document of ``form`` (keys in the catalog's order; the leading comment kept).

    An auto-grant with conditions checked at application is refused here, as the loader does:
    免申即享 has no application.
    """
    _check(form)
    values: dict[str, Any] = {
        "id": form.id, "title": form.title, "title_en": form.title_en,
        "department": form.department, "basis": form.basis,
        "provenance": form.provenance, "provenance_note": form.provenance_note,
        "audience": form.audience,
        "unit": form.unit, "recipient": form.recipient, "mode": form.mode,
        "category": form.category,
        "eligibility": conditions_text(form.conditions, form.audience),
        "application_conditions": list(form.application_conditions) or None,
        "benefit": benefit_text(form),
        "benefit_period": form.benefit_period if form.amount.kind != "none" else None,
        "valid_from": form.valid_from, "valid_until": form.valid_until,
        "summary": form.summary, "summary_en": form.summary_en,
        "materials": list(form.materials) or None, "where": form.where,
        "apply_url": form.apply_url, "contact": form.contact,
        "objection_days": form.objection_days,
        "relations": [_relation_item(r) for r in form.relations] or None,
    }  # fmt: skip
    lines = [form.comment] if form.comment else []
    for key, value in values.items():
        if value is None or value == "":
            continue
        if key in ("eligibility", "benefit"):
            lines.append(f"{key}: '{value.replace(chr(39), chr(39) * 2)}'")
        else:
            dumped = yaml.safe_dump({key: value}, allow_unicode=True, sort_keys=False, width=2**20)
            lines.append(dumped.rstrip("\n"))
    return "\n".join(lines) + "\n"


def _relation_item(relation: Relation) -> dict[str, str]:
    """One ``relations:`` item as the catalog writes it: ``{replaces: bj-x}``, ``wins`` after."""
    item = {relation.kind: relation.policy_id}
    return item if relation.wins is None else {**item, "wins": relation.wins}


def _check(form: PolicyForm) -> None:
    for key, allowed in (
        ("audience", AUDIENCES), ("mode", MODES), ("unit", (None, *UNITS)),
        ("recipient", (None, *RECIPIENTS)), ("benefit_period", (None, *BENEFIT_PERIODS)),
        ("category", (None, *CATEGORIES)),
    ):  # fmt: skip
        if getattr(form, key) not in allowed:
            shown = ", ".join(str(a) for a in allowed if a is not None)
            raise FormError(
                f"{key} {getattr(form, key)!r} is not one of {shown}",
                zh=f"“{getattr(form, key)}”不在可选范围内（{shown}），请从列表中选择",
            )
    _check_relations(form)
    if form.amount.kind != "none" and form.benefit_period is None:
        raise FormError(
            "an amount needs its period: once, month or year",
            zh="金额需要发放周期：一次性、每月或每年",
            section="amount",
        )
    if form.application_conditions and form.mode == "auto_grant":
        raise FormError(
            "an auto-grant (免申即享) has no application, so nothing can be checked at "
            "application: make each condition a row of the eligibility, or choose fast_track "
            "(直达快享) or proactive_push (服务找人)",
            zh="免申即享政策没有申请环节，无法在申请时核验条件：请把每条条件改为资格条件，"
            "或将服务方式改为直达快享或服务找人",
            section="application",
        )


def _check_relations(form: PolicyForm) -> None:
    """What the form can tell of a relation without the catalog (whether the other policy is
    published and of the same audience is the review's check, ``rules.relations``)."""
    for n, r in enumerate(form.relations, 1):
        where = f"relation {n}"
        if r.kind not in RELATION_KINDS:
            raise FormError(
                f"{where}: {r.kind!r} is not one of replaces, supplements, excludes",
                zh=f"第 {n} 项关系：“{r.kind}”不是替代、补充或互斥之一，请从列表中选择",
                section="relations",
            )
        if not r.policy_id:
            raise FormError(
                f"{where}: pick the published policy it {r.kind}",
                zh=f"第 {n} 项关系：请选择与之{RELATION_WORDS[r.kind][0]}的已发布政策",
                section="relations",
            )
        if r.policy_id == form.id:
            raise FormError(
                f"{where}: {form.id} cannot {r.kind} itself; a new version replaces the old",
                zh=f"第 {n} 项关系：政策不能与自身建立关系；新版本本身就会替代旧版本",
                section="relations",
            )
        if r.wins is not None and (r.kind != "excludes" or r.wins not in (form.id, r.policy_id)):
            raise FormError(
                f"{where}: wins belongs to excludes and names {form.id} or {r.policy_id}",
                zh=f"第 {n} 项关系：只有互斥关系可指定以哪项为准，且须为本政策或{r.policy_id}",
                section="relations",
            )
