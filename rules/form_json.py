"""The 政策要素 form as JSON, for the console: :func:`form_json` and :func:`form_from_json`.

Numbers travel as ``{"number": "0.055"}`` (text, so no float rounds them), dates as
``{"date": "2026-01-01"}``, parameters as ``{"parameter": name, "index": …, "times": …}``;
rows carry ``"type": "row"``, groups ``"group"``, rows over members or staff ``"group_row"``.
Reading checks every part and names what is wrong and how to fix it.

>>> from datetime import date
>>> from rules.conditions import Condition
>>> form = PolicyForm(id="bj-x", title="示例", department="民政局", audience="resident",
...     mode="proactive_push", valid_from=date(2026, 1, 1),
...     conditions=Conditions("all", (Condition("age", "ge", Decimal(80)),)))
>>> form_from_json(form_json(form)) == form
True
>>> form_json(form)["conditions"]["rows"][0]
{'type': 'row', 'subject': 'age', 'operator': 'ge', 'value': {'number': '80'}}
>>> form_from_json({**form_json(form), "valid_from": "soon"})
Traceback (most recent call last):
rules.errors.FormError: valid_from: expected a date like 2026-01-01, found 'soon'
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from rules.conditions import Condition, Conditions, GroupRow, ParameterRef, Value, number_text
from rules.errors import FormError
from rules.form import Amount, PolicyForm
from rules.relations import KINDS, Relation
from rules.tables import AmountValue, DecisionTable, Tier

__all__ = ["form_from_json", "form_json"]


def form_json(form: PolicyForm) -> dict[str, Any]:
    """The form as JSON-ready values."""
    out = _to_json(form)
    assert isinstance(out, dict)
    return out


def _to_json(value: Any) -> Any:
    if isinstance(value, ParameterRef):
        times = number_text(value.times) if value.times is not None else None
        return {"parameter": value.name, "index": value.index, "times": times}
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, Decimal):
        return {"number": number_text(value)}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, tuple | list):
        return [_to_json(v) for v in value]
    kind = {Condition: "row", GroupRow: "group_row", Conditions: "group"}.get(type(value))
    body = {f.name: _to_json(getattr(value, f.name)) for f in fields(value)}
    return {"type": kind, **body} if kind else body


def form_from_json(data: Any) -> PolicyForm:
    """A form from its JSON; raises :class:`FormError` naming the part and the fix."""
    if not isinstance(data, dict):
        raise FormError(
            "the form is a JSON object of the policy's keys", zh="表单应为政策各项的对象"
        )
    text = {k: _text(data, k) for k in _TEXT_KEYS}
    for key in ("id", "title", "department", "audience", "mode"):
        if not text[key]:
            raise FormError(f"{key}: required; fill it in", zh=f"{_KEY_ZH[key]}：必填，请填写")
    days = data.get("objection_days")
    if days not in (None, "") and not (isinstance(days, int) and days >= 0):
        raise FormError(
            f"objection_days: expected a whole number of days, found {days!r}",
            zh=f"异议期：应为整数天数，这里是 {days!r}",
        )
    return PolicyForm(
        **{k: v for k, v in text.items() if v is not None},
        conditions=_conditions(data.get("conditions"), _CONDITIONS),
        valid_from=_date(data.get("valid_from"), "valid_from", required=True),  # type: ignore[arg-type]
        valid_until=_date(data.get("valid_until"), "valid_until"),
        amount=_amount(data.get("amount")),
        application_conditions=_texts(data, "application_conditions"),
        materials=_texts(data, "materials"),
        objection_days=days if days != "" else None,
        relations=_relations(data.get("relations")),
    )


_TEXT_KEYS = (
    "id", "title", "department", "audience", "mode", "benefit_period", "title_en", "basis",
    "category", "unit", "recipient", "summary", "summary_en", "where", "apply_url", "contact",
    "provenance", "provenance_note", "comment",
)  # fmt: skip
_KEY_ZH = {
    "id": "政策编号", "title": "政策名称", "department": "主管部门", "audience": "服务对象",
    "mode": "服务方式", "valid_from": "生效日期", "valid_until": "截止日期",
    "materials": "所需材料", "application_conditions": "申请时核验的条件",
    "relations": "与已发布政策的关系",
}  # fmt: skip


@dataclass(frozen=True)
class _Where:
    """Which part of the form a value sits in, in both languages, and its section."""

    en: str
    zh: str
    section: str

    def row(self, n: int) -> _Where:
        return _Where(f"{self.en} row {n}", f"{self.zh}第 {n} 条", self.section)

    def error(self, en: str, zh: str) -> FormError:
        return FormError(f"{self.en}: {en}", zh=f"{self.zh}：{zh}", section=self.section)


_CONDITIONS = _Where("conditions", "资格条件", "conditions")


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return "" if key == "comment" else None
    if not isinstance(value, str):
        raise FormError(f"{key}: expected text, found {value!r}", zh=f"{key}：应为文字")
    return value.strip() if key != "comment" else value


def _texts(data: dict[str, Any], key: str) -> tuple[str, ...]:
    items = data.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise FormError(
            f"{key}: expected a list of texts, one per line",
            zh=f"{_KEY_ZH.get(key, key)}：应为文字，每行一条",
            section="application" if key == "application_conditions" else "basics",
        )
    return tuple(i.strip() for i in items if i.strip())


def _relations(items: Any) -> tuple[Relation, ...]:
    """``[{"kind": "excludes", "policy_id": "bj-x", "wins": null}, …]``: a relation per row."""
    if items in (None, ""):
        return ()
    if not isinstance(items, list):
        raise FormError(
            "relations: expected a list of {kind, policy_id, wins}",
            zh="与已发布政策的关系：应为关系列表",
            section="relations",
        )
    out = []
    for n, item in enumerate(items, 1):
        where = _Where(f"relation {n}", f"第 {n} 项关系", "relations")
        if not isinstance(item, dict) or item.get("kind") not in KINDS:
            raise where.error(
                "choose replaces (替代), supplements (补充) or excludes (互斥)",
                "请选择替代、补充或互斥",
            )
        target, wins = item.get("policy_id"), item.get("wins")
        if not isinstance(target, str) or not target.strip():
            raise where.error("pick the published policy by its title", "请按名称选择已发布政策")
        if wins not in (None, "") and not isinstance(wins, str):
            raise where.error("wins names a policy id", "以哪项为准：应为政策编号")
        out.append(Relation(item["kind"], target.strip(), wins.strip() if wins else None))
    return tuple(out)


def _date(value: Any, key: str, *, required: bool = False) -> date | None:
    if isinstance(value, dict):
        value = value.get("date")
    zh = _KEY_ZH.get(key, key)
    if value in (None, ""):
        if required:
            raise FormError(f"{key}: required; pick a date", zh=f"{zh}：必填，请选择日期")
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise FormError(
            f"{key}: expected a date like 2026-01-01, found {value!r}",
            zh=f"{zh}：应为日期，例如 2026-01-01，这里是 {value!r}",
        ) from None


def _number(value: Any, where: _Where) -> Decimal:
    raw = value.get("number") if isinstance(value, dict) else value
    try:
        number = Decimal(str(raw).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        number = Decimal("NaN")
    if not number.is_finite():
        shown = "empty" if raw in (None, "") else repr(raw)
        raise where.error(
            f"expected a number such as 80 or 0.5, found {shown}",
            f"应为数字，例如 80 或 0.5，这里是{'空的' if raw in (None, '') else f' {raw!r}'}",
        )
    return number


def _parameter(value: dict[str, Any], where: _Where) -> ParameterRef:
    name = value.get("parameter")
    if not isinstance(name, str) or not name:
        raise where.error("pick a parameter from the library", "请从参数库中选择参数")
    index = value.get("index") or None
    times = value.get("times")
    return ParameterRef(
        name,
        str(index) if index is not None else None,
        _number(times, where) if times not in (None, "") else None,
    )


def _amount_value(value: Any, where: _Where) -> AmountValue:
    if isinstance(value, dict) and "parameter" in value:
        return _parameter(value, where)
    return _number(value, where)


def _value(value: Any, where: _Where) -> Value:
    if isinstance(value, list):
        return tuple(_value(v, where) for v in value)
    if isinstance(value, dict):
        if "parameter" in value:
            return _parameter(value, where)
        if "date" in value:
            if not value.get("date"):
                raise where.error("pick a date", "请选择日期")
            return _date(value, where.en)
        return _number(value, where)
    if value is None or isinstance(value, bool | str):
        return value
    raise where.error(
        f"expected a value (text, number, date or list), found {value!r}",
        "应为文字、数字、日期或取值列表",
    )


def _row(data: Any, where: _Where) -> Condition | GroupRow | Conditions:
    if not isinstance(data, dict):
        raise where.error("expected a row", "应为一条条件")
    kind = data.get("type")
    if kind == "group":
        return _conditions(data, where)
    if kind == "group_row":
        count = data.get("value")
        return GroupRow(
            aggregate=str(data.get("aggregate") or ""),
            where=_conditions(data["where"], where) if data.get("where") else None,
            operator=data.get("operator") or None,
            value=_number(count, where) if count not in (None, "") else None,
        )
    if kind == "row":
        subject = data.get("subject")
        if not isinstance(subject, str) or not subject:
            raise where.error("pick a field or a tag", "请选择字段或标签")
        return Condition(subject, str(data.get("operator") or ""), _value(data.get("value"), where))
    raise where.error(f"a row's type is row, group or group_row, found {kind!r}", "条件类型不正确")


def _conditions(data: Any, where: _Where) -> Conditions:
    if not isinstance(data, dict) or data.get("join") not in ("all", "any"):
        raise where.error(
            "a group joins its rows with all (全部满足) or any (任一满足)",
            "一组条件须选择全部满足或任一满足",
        )
    rows = data.get("rows") or []
    if not isinstance(rows, list):
        raise where.error("expected a list of rows", "应为条件列表")
    return Conditions(data["join"], tuple(_row(r, where.row(n)) for n, r in enumerate(rows, 1)))


def _amount(data: Any) -> Amount:
    amount = _Where("amount", "待遇金额", "amount")
    if data is None:
        return Amount()
    if not isinstance(data, dict) or data.get("kind") not in ("none", "fixed", "table", "formula"):
        raise amount.error(
            "choose none, fixed, table or formula", "请选择无金额、固定金额、分档或公式"
        )
    kind = data["kind"]
    if kind == "fixed":
        return Amount("fixed", fixed=_amount_value(data.get("fixed"), amount))
    if kind == "formula":
        return Amount("formula", formula=str(data.get("formula") or ""))
    if kind == "table":
        table = data.get("table") or {}
        tiers = tuple(
            Tier(
                _conditions(t.get("when"), _Where(f"tier {n}", f"第 {n} 档", "amount")),
                _amount_value(
                    t.get("amount"), _Where(f"tier {n}'s amount", f"第 {n} 档的金额", "amount")
                ),
            )
            for n, t in enumerate(table.get("tiers") or [], 1)
        )
        otherwise = table.get("otherwise")
        other = (
            _amount_value(otherwise, _Where("otherwise", "其他情况", "amount"))
            if otherwise not in (None, "")
            else None
        )
        return Amount("table", table=DecisionTable(tiers, other))
    return Amount()
