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

from dataclasses import fields
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from rules.conditions import Condition, Conditions, GroupRow, ParameterRef, Value, number_text
from rules.errors import FormError
from rules.form import Amount, PolicyForm
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
        raise FormError("the form is a JSON object of the policy's keys")
    text = {k: _text(data, k) for k in _TEXT_KEYS}
    for key in ("id", "title", "department", "audience", "mode"):
        if not text[key]:
            raise FormError(f"{key}: required; fill it in")
    days = data.get("objection_days")
    if days not in (None, "") and not (isinstance(days, int) and days >= 0):
        raise FormError(f"objection_days: expected a whole number of days, found {days!r}")
    return PolicyForm(
        **{k: v for k, v in text.items() if v is not None},
        conditions=_conditions(data.get("conditions"), "conditions"),
        valid_from=_date(data.get("valid_from"), "valid_from", required=True),  # type: ignore[arg-type]
        valid_until=_date(data.get("valid_until"), "valid_until"),
        amount=_amount(data.get("amount")),
        application_conditions=_texts(data, "application_conditions"),
        materials=_texts(data, "materials"),
        objection_days=days if days != "" else None,
    )


_TEXT_KEYS = (
    "id", "title", "department", "audience", "mode", "benefit_period", "title_en", "basis",
    "category", "unit", "recipient", "summary", "summary_en", "where", "apply_url", "contact",
    "comment",
)  # fmt: skip


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return "" if key == "comment" else None
    if not isinstance(value, str):
        raise FormError(f"{key}: expected text, found {value!r}")
    return value.strip() if key != "comment" else value


def _texts(data: dict[str, Any], key: str) -> tuple[str, ...]:
    items = data.get(key) or []
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise FormError(f"{key}: expected a list of texts, one per line")
    return tuple(i.strip() for i in items if i.strip())


def _date(value: Any, key: str, *, required: bool = False) -> date | None:
    if isinstance(value, dict):
        value = value.get("date")
    if value in (None, ""):
        if required:
            raise FormError(f"{key}: required; pick a date")
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise FormError(f"{key}: expected a date like 2026-01-01, found {value!r}") from None


def _number(value: Any, where: str) -> Decimal:
    raw = value.get("number") if isinstance(value, dict) else value
    try:
        number = Decimal(str(raw).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        raise FormError(f"{where}: expected a number such as 80 or 0.5, found {raw!r}") from None
    if not number.is_finite():
        raise FormError(f"{where}: expected a number such as 80 or 0.5, found {raw!r}")
    return number


def _parameter(value: dict[str, Any], where: str) -> ParameterRef:
    name = value.get("parameter")
    if not isinstance(name, str) or not name:
        raise FormError(f"{where}: pick a parameter from the library")
    index = value.get("index") or None
    times = value.get("times")
    return ParameterRef(
        name,
        str(index) if index is not None else None,
        _number(times, where) if times not in (None, "") else None,
    )


def _amount_value(value: Any, where: str) -> AmountValue:
    if isinstance(value, dict) and "parameter" in value:
        return _parameter(value, where)
    return _number(value, where)


def _value(value: Any, where: str) -> Value:
    if isinstance(value, list):
        return tuple(_value(v, where) for v in value)
    if isinstance(value, dict):
        if "parameter" in value:
            return _parameter(value, where)
        if "date" in value:
            return _date(value, where, required=True)
        return _number(value, where)
    if value is None or isinstance(value, bool | str):
        return value
    raise FormError(f"{where}: expected a value (text, number, date or list), found {value!r}")


def _row(data: Any, where: str) -> Condition | GroupRow | Conditions:
    if not isinstance(data, dict):
        raise FormError(f"{where}: expected a row")
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
            raise FormError(f"{where}: pick a field or a tag")
        return Condition(subject, str(data.get("operator") or ""), _value(data.get("value"), where))
    raise FormError(f"{where}: a row's type is row, group or group_row, found {kind!r}")


def _conditions(data: Any, where: str) -> Conditions:
    if not isinstance(data, dict) or data.get("join") not in ("all", "any"):
        raise FormError(f"{where}: a group joins its rows with all (全部满足) or any (任一满足)")
    rows = data.get("rows") or []
    if not isinstance(rows, list):
        raise FormError(f"{where}: expected a list of rows")
    return Conditions(
        data["join"], tuple(_row(r, f"{where} row {n}") for n, r in enumerate(rows, 1))
    )


def _amount(data: Any) -> Amount:
    if data is None:
        return Amount()
    if not isinstance(data, dict) or data.get("kind") not in ("none", "fixed", "table", "formula"):
        raise FormError("amount: choose none, fixed, table or formula")
    kind = data["kind"]
    if kind == "fixed":
        return Amount("fixed", fixed=_amount_value(data.get("fixed"), "amount"))
    if kind == "formula":
        return Amount("formula", formula=str(data.get("formula") or ""))
    if kind == "table":
        table = data.get("table") or {}
        tiers = tuple(
            Tier(
                _conditions(t.get("when"), f"table row {n}"),
                _amount_value(t.get("amount"), f"table row {n}'s amount"),
            )
            for n, t in enumerate(table.get("tiers") or [], 1)
        )
        otherwise = table.get("otherwise")
        other = _amount_value(otherwise, "otherwise") if otherwise not in (None, "") else None
        return Amount("table", table=DecisionTable(tiers, other))
    return Amount()
