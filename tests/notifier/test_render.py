from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifier.channels.base import PermanentDeliveryError
from notifier.message_items import TemplateRenderError
from notifier.render import LOCALES, PURPOSES, render, render_row
from notifier.sms_segments import sms_length

BASE = "https://zd.gov.cn"


def _item(purpose: str, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "purpose": purpose, "policy_id": f"p-{purpose}", "title": "育儿补贴",
        "title_en": "Childcare subsidy", "department": "北京市卫生健康委员会", "contact": "12345",
        "benefit": "3600", "benefit_period": "year", "reason": ["children_under_3 >= 1 ✓"],
        "materials": ["身份证"], "where": "街道政务服务中心", "start_date": "2026-03-01",
        "objection_until": "2026-03-31", "end_date": "2026-04-30", "draft_token": "tok",
        "settle": [{"field": "monthly_income", "eligible_if": ["monthly_income < 3000"]}],
        "item_key": f"key-{purpose}",
    }  # fmt: skip
    item.update(extra)
    return item


SINGLE = [p for p in PURPOSES if p != "digest"]
# How the reasons of _item and _items read in each language: field names in words.
SAID = {
    "zh": {
        "children_under_3 >= 1 ✓": "三岁以下子女数 不低于 1 ✓",
        "age >= 80 ✓": "年龄 不低于 80 ✓",
    },
    "en": {
        "children_under_3 >= 1 ✓": "children under 3 at least 1 ✓",
        "age >= 80 ✓": "age at least 80 ✓",
    },
}


def _items(purpose: str) -> list[dict[str, Any]]:
    if purpose == "digest":
        return [
            _item("grant_notice"),
            _item("invitation", title="高龄津贴", reason=["age >= 80 ✓"]),
        ]
    return [_item(purpose)]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("channel", ["sms", "email", "inbox", "webhook"])
@pytest.mark.parametrize("purpose", PURPOSES)
def test_every_purpose_renders_in_both_languages_with_the_reason(
    purpose: str, channel: str, locale: str
) -> None:
    items = _items(purpose)
    done = render(items, channel=channel, locale=locale, base_url=BASE)
    assert done.title and done.body
    assert done.template == f"{locale}/{purpose}.{'sms' if channel == 'sms' else 'text'}.j2"
    for item in items:
        assert SAID[locale][item["reason"][0]] in done.body
        assert (item["title_en"] if locale == "en" else item["title"]) in done.body
    if channel == "sms":
        assert done.segments is not None and done.segments <= 3


@pytest.mark.parametrize(
    ("purpose", "link"),
    [
        ("grant_notice", f"{BASE}/m/key-grant_notice"),
        ("fast_track_invitation", f"{BASE}/apply/tok"),
        ("invitation", f"{BASE}/m/key-invitation"),
        ("maybe_question", f"{BASE}/m/key-maybe_question"),
    ],
)
def test_each_message_links_where_the_person_acts(purpose: str, link: str) -> None:
    assert link in render([_item(purpose)], channel="sms", locale="zh", base_url=BASE).body


def test_an_invitation_links_to_the_policys_own_application_page() -> None:
    item = _item("invitation", apply_url="https://wsbs.beijing.gov.cn/apply/42")
    done = render([item], channel="email", locale="zh", base_url=BASE)
    assert "https://wsbs.beijing.gov.cn/apply/42" in done.body
    assert "身份证" in done.body and "街道政务服务中心" in done.body


def test_a_grant_notice_says_what_why_how_to_object_and_whom_to_ask() -> None:
    body = render([_item("grant_notice")], channel="inbox", locale="zh", base_url=BASE).body
    for part in ("每年 3600 元", "三岁以下子女数 不低于 1 ✓", "2026-03-31", "异议", "12345"):
        assert part in body


WRITTEN: dict[str, Any] = {
    "summary": "三岁以下婴幼儿的父母每年可领育儿补贴。",
    "summary_en": "Parents of children under three get a yearly childcare subsidy.",
    "materials": ["身份证", "出生医学证明"],
    "where": "户籍所在地街道政务服务中心",
    "application_conditions": ["孩子由您实际抚养", "未在外省市领取同类补贴"],
}


@pytest.mark.parametrize("channel", ["email", "inbox", "webhook"])
@pytest.mark.parametrize("purpose", ["invitation", "fast_track_invitation", "grant_notice"])
def test_what_the_officer_wrote_reaches_the_resident_in_invitations_and_grant_notices(
    purpose: str, channel: str
) -> None:
    body = render([_item(purpose, **WRITTEN)], channel=channel, locale="zh", base_url=BASE).body
    for part in (WRITTEN["summary"], "身份证、出生医学证明", "户籍所在地街道政务服务中心"):
        assert part in body, part
    assert "申请时需要您确认" in body
    for condition in WRITTEN["application_conditions"]:
        assert f"· {condition}" in body
    english = render([_item(purpose, **WRITTEN)], channel=channel, locale="en", base_url=BASE)
    assert WRITTEN["summary_en"] in english.body and "you confirm" in english.body
    assert "身份证, 出生医学证明" in english.body


def test_a_policy_without_conditions_at_application_says_nothing_of_them() -> None:
    body = render([_item("invitation")], channel="inbox", locale="zh", base_url=BASE).body
    assert "申请时" not in body and "请准备：身份证。" in body


def test_a_grant_notice_does_not_ask_the_granted_to_apply_somewhere() -> None:
    body = render([_item("grant_notice", **WRITTEN)], channel="inbox", locale="zh").body
    assert "经办机构：户籍所在地街道政务服务中心" in body and "办理地点" not in body
    assert "您无需申请" in body


def test_a_revocation_notice_names_the_end_date_and_promises_no_clawback() -> None:
    body = render([_item("revocation_notice")], channel="email", locale="en", base_url=BASE).body
    assert "2026-04-30" in body and "clawed back" in body


def test_a_maybe_question_asks_the_one_fact_by_its_name_in_the_language() -> None:
    zh = render([_item("maybe_question")], channel="sms", locale="zh", base_url=BASE)
    en = render([_item("maybe_question")], channel="email", locale="en", base_url=BASE)
    assert "月收入" in zh.body
    assert "Personal monthly income" in en.body


@pytest.mark.parametrize(
    ("locale", "line", "said"),
    [
        ("zh", 'hukou_city == "北京市" ✓', "户籍城市 为 “北京市” ✓"),
        ("zh", "待确认 monthly_income: monthly_income < 3000", "待确认 月收入：月收入 低于 3000"),
        ("en", "monthly_income < 3000 ✗", "monthly income below 3000 ✗"),
        ("zh", '"new_parent" in tags ✓', "有标签“新生儿父母” ✓"),  # the tag library's name
        ("en", '"new_parent" in tags ✓', "has the tag “new parent” ✓"),
    ],
)
def test_reasons_are_in_plain_words_of_the_messages_language(
    locale: str, line: str, said: str
) -> None:
    item = _item("invitation", reason=[line])
    assert said in render([item], channel="email", locale=locale, base_url=BASE).body


def test_the_digest_lists_every_item() -> None:
    done = render(_items("digest"), channel="inbox", locale="zh", base_url=BASE)
    assert "2 条" in done.title
    assert "育儿补贴" in done.body and "高龄津贴" in done.body


LONG_REASON = [f"条件{i}：household_income_per_capita < {i}000 ✓" for i in range(20)]


@pytest.mark.parametrize("cap", [1, 2, 3, 5])
def test_a_long_sms_is_held_to_the_cap_by_shortening_the_reason_not_the_link(cap: int) -> None:
    item = _item("invitation", reason=LONG_REASON, title="补贴", item_key="k")
    done = render([item], channel="sms", locale="zh", base_url=BASE, max_segments=cap)
    assert done.segments == sms_length(done.body).segments <= cap
    assert done.body.endswith(f"{BASE}/m/k")
    assert "…" in done.body
    assert "条件0" in done.body or cap == 1  # what is kept is the reason's beginning


def test_an_sms_that_cannot_fit_even_without_a_reason_fails_with_a_clear_reason() -> None:
    item = _item("invitation", title="很长的政策名称" * 20)
    with pytest.raises(TemplateRenderError, match="even with the reason cut to nothing"):
        render([item], channel="sms", locale="zh", base_url=BASE, max_segments=2)


@given(
    reason=st.lists(st.text(min_size=1, max_size=80), max_size=8),
    locale=st.sampled_from(LOCALES),
    purpose=st.sampled_from(SINGLE),
)
@settings(max_examples=60, deadline=None)
def test_any_reason_yields_an_sms_within_the_cap_with_the_link_whole(
    reason: list[str], locale: str, purpose: str
) -> None:
    item = _item(purpose, reason=reason, item_key="kk", draft_token="kk")
    done = render([item], channel="sms", locale=locale, base_url=BASE, max_segments=3)
    assert sms_length(done.body).segments <= 3
    assert done.body.endswith("/kk")


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "gsm7", 0, 1),
        ("a" * 160, "gsm7", 160, 1),
        ("a" * 161, "gsm7", 161, 2),
        ("a" * 306, "gsm7", 306, 2),
        ("a" * 307, "gsm7", 307, 3),
        ("€" * 80, "gsm7", 160, 1),
        ("é" * 10, "gsm7", 10, 1),
        ("您" * 70, "ucs2", 70, 1),
        ("您" * 71, "ucs2", 71, 2),
        ("您" * 134, "ucs2", 134, 2),
        ("a" * 69 + "您", "ucs2", 70, 1),  # one Chinese character makes it all UCS-2
        ("😀" * 35, "ucs2", 70, 1),  # outside the BMP: two UTF-16 units each
    ],
)
def test_sms_length(text: str, encoding: str, units: int, segments: int) -> None:
    got = sms_length(text)
    assert (got.encoding, got.units, got.segments) == (encoding, units, segments)


def _templates(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_a_template_naming_something_missing_is_a_permanent_failure_naming_both(
    tmp_path: Path,
) -> None:
    root = _templates(tmp_path, "zh/invitation.text.j2", "标题\n{{ item.deadline }}\n")
    with pytest.raises(TemplateRenderError, match=r"zh/invitation\.text\.j2.*deadline") as info:
        render([_item("invitation")], channel="email", locale="zh", templates=root)
    assert isinstance(info.value, PermanentDeliveryError)


def test_a_template_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    root = _templates(tmp_path, "zh/invitation.text.j2", "标题\n正文\n{% if %}\n")
    with pytest.raises(TemplateRenderError, match="line 3"):
        render([_item("invitation")], channel="email", locale="zh", templates=root)


def test_a_missing_template_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateRenderError, match=r"no template 'zh/invitation\.text\.j2'"):
        render([_item("invitation")], channel="email", locale="zh", templates=tmp_path)


def test_an_empty_body_is_refused(tmp_path: Path) -> None:
    root = _templates(tmp_path, "zh/invitation.text.j2", "只有标题\n")
    with pytest.raises(TemplateRenderError, match="empty body"):
        render([_item("invitation")], channel="email", locale="zh", templates=root)


@pytest.mark.parametrize(
    ("items", "locale", "match"),
    [
        ([_item("invitation")], "fr", "no templates for language 'fr'"),
        ([], "zh", "at least one item"),
        ([{"purpose": "invitation", "policy_id": "x"}], "zh", "'x' lacks title"),
        ([_item("lottery")], "zh", r"no template 'zh/lottery\.text\.j2'"),
    ],
)
def test_bad_payloads_fail_permanently_with_the_reason(
    items: list[dict[str, Any]], locale: str, match: str
) -> None:
    with pytest.raises(TemplateRenderError, match=match):
        render(items, channel="email", locale=locale)


def test_webhook_parameters_carry_the_facts_for_a_template_message() -> None:
    done = render([_item("grant_notice")], channel="webhook", locale="zh", base_url=BASE)
    assert done.template_id == "zhida.grant_notice"
    assert done.params["policy"] == "育儿补贴"
    assert done.params["benefit"] == "每年 3600 元"
    assert done.params["reason"] == "三岁以下子女数 不低于 1 ✓"
    assert done.params["link"] == f"{BASE}/m/key-grant_notice"


@dataclass(frozen=True)
class _Row:
    id: int
    idempotency_key: str
    subject_id: str
    subject_type: str
    channel: str
    address: str | None
    locale: str
    payload: dict[str, Any] = field(default_factory=dict)


def test_render_row_turns_an_outbox_row_into_the_message_its_channel_sends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ZHIDA_PUBLIC_URL", "https://bj.example.cn/")
    monkeypatch.setenv("ZHIDA_SMS_SIGNATURE", "北京通")
    monkeypatch.setenv("ZHIDA_SMS_MAX_SEGMENTS", "1")
    long = _item("invitation", reason=LONG_REASON)
    row = _Row(9, "key9", "p1", "resident", "sms", "+8613800000000", "zh",
               {"items": [long]})  # fmt: skip
    message = render_row(row)
    assert sms_length(message.body).segments == 1
    assert message.body.startswith("【北京通】")
    assert "https://bj.example.cn/m/key-invitation" in message.body
    assert (message.ledger_id, message.idempotency_key, message.address) == (
        9, "key9", "+8613800000000",
    )  # fmt: skip
    assert message.policy_ids == ("p-invitation",)
