"""One notice or offer as the message templates see it: :class:`Item`, in the message's language.

An outbox payload item (as the planner stores it) becomes an :class:`Item` with its link, its
benefit in words (:func:`benefit_text`) and its reasons with field names in words
(:func:`humanise`).  An item that lacks what every template needs is a
:class:`TemplateRenderError`, the permanent delivery failure of rendering.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from notifier.channels.base import PermanentDeliveryError

__all__ = ["Item", "TemplateRenderError", "benefit_text", "humanise"]


class TemplateRenderError(PermanentDeliveryError):
    """A template cannot render these items (a mistake in it, or data it needs is missing)."""


_PERIODS = {
    "zh": {"month": "每月 {} 元", "year": "每年 {} 元", "once": "一次性 {} 元", None: "{} 元"},
    "en": {
        "month": "CNY {} per month",
        "year": "CNY {} per year",
        "once": "CNY {} once",
        None: "CNY {}",
    },
}


def benefit_text(amount: object, period: str | None, locale: str) -> str | None:
    """A benefit in words: ``每月 500 元``, ``CNY 1,200 per year``; None when there is none.

    >>> benefit_text("500.00", "month", "zh"), benefit_text(1200, "year", "en")
    ('每月 500 元', 'CNY 1,200 per year')
    >>> benefit_text(None, "month", "zh") is None, benefit_text("12.5", "once", "en")
    (True, 'CNY 12.50 once')
    """
    if amount is None or amount == "":
        return None
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    shown = f"{value:,.0f}" if value == value.to_integral_value() else f"{value:,.2f}"
    if locale == "zh":
        shown = shown.replace(",", "")
    pattern = _PERIODS[locale].get(period, _PERIODS[locale][None])
    return pattern.format(shown)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def humanise(line: str, names: Mapping[str, str]) -> str:
    """A rule clause with field names in words; quoted values are left alone.

    >>> humanise('hukou_city == "北京市" ✓', {"hukou_city": "户籍城市"})
    '户籍城市 == "北京市" ✓'
    >>> humanise('"age" in tags and age >= 80', {"age": "年龄"})
    '"age" in tags and 年龄 >= 80'
    """
    parts = line.split('"')
    for i in range(0, len(parts), 2):  # outside quotes
        parts[i] = _NAME.sub(lambda m: names.get(m.group(0), m.group(0)), parts[i])
    return '"'.join(parts)


@dataclass(frozen=True)
class Item:
    """One notice or offer as templates see it, in the message's language."""

    purpose: str
    policy_id: str
    title: str
    link: str
    reason: tuple[str, ...] = ()
    department: str = ""
    summary: str = ""
    benefit: str | None = None
    materials: tuple[str, ...] = ()
    # what no record shows and the applicant confirms (the policy's application_conditions)
    application_conditions: tuple[str, ...] = ()
    where: str = ""
    contact: str = ""
    start_date: str = ""
    objection_until: str = ""
    end_date: str = ""
    question: str = ""

    @classmethod
    def from_payload(
        cls,
        data: Mapping[str, Any],
        *,
        locale: str,
        base_url: str,
        field_label: Mapping[str, str] | None = None,
        reason_names: Mapping[str, str] | None = None,
        reason_words: Callable[[str], str] | None = None,
    ) -> Item:
        """An outbox payload item (see ``notifier/dispatch.py``) in ``locale``.

        ``field_label`` names the fact a maybe-question asks for; ``reason_words`` puts a
        reason's clause in plain words (fields, operators, tags: ``rules.plain_words``), else
        ``reason_names`` replaces just its field names (both default to none).
        """
        missing = [k for k in ("purpose", "title") if not data.get(k)]
        if missing:
            raise TemplateRenderError(
                f"message item {data.get('policy_id', '?')!r} lacks {', '.join(missing)}; "
                "the planner must store them in the outbox payload"
            )
        en = locale == "en"
        purpose = str(data["purpose"])
        key = str(data.get("item_key") or data.get("policy_id") or "")
        if purpose == "fast_track_invitation" and data.get("draft_token"):
            link = f"{base_url}/apply/{data['draft_token']}"
        elif purpose == "invitation" and data.get("apply_url"):
            link = str(data["apply_url"])
        else:  # notices, questions: the message's own page in the message centre
            link = f"{base_url}/m/{key}"
        settle = list(data.get("settle") or [])
        question = ""
        if settle:
            name = str(settle[0].get("field", ""))
            question = (field_label or {}).get(name, name)
        return cls(
            purpose=purpose,
            policy_id=str(data.get("policy_id", "")),
            title=str((en and data.get("title_en")) or data["title"]),
            link=link,
            reason=tuple(
                reason_words(str(r)) if reason_words else humanise(str(r), reason_names or {})
                for r in data.get("reason") or ()
            ),
            department=str(data.get("department") or ""),
            summary=str((en and data.get("summary_en")) or data.get("summary") or ""),
            benefit=benefit_text(data.get("benefit"), data.get("benefit_period"), locale),
            materials=tuple(str(m) for m in data.get("materials") or ()),
            application_conditions=tuple(str(c) for c in data.get("application_conditions") or ()),
            where=str(data.get("where") or ""),
            contact=str(data.get("contact") or ""),
            start_date=str(data.get("start_date") or ""),
            objection_until=str(data.get("objection_until") or ""),
            end_date=str(data.get("end_date") or ""),
            question=question,
        )
