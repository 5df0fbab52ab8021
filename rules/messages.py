"""The words of rule errors and checks, in Chinese (the console's default) and English.

A message is a code and its parameters; :func:`render` puts them into the template of a
language.  A parameter may itself differ by language (``{"zh": …, "en": …}``), as a suggested
fix does (``年龄`` to an officer writing Chinese, ``'age'`` in English).

>>> render("unknown_tag", {"tag": "育儿家庭", "hint": {"zh": "…", "en": "…"}}, "en")
'unknown tag "育儿家庭"; …'
>>> render("in_key", {"key": "benefit", "message": "…"}, "zh")
'待遇金额：…'
>>> render("no_such_code", {}, "zh")
'no_such_code'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["KEY_WORDS", "MESSAGES", "render"]

KEY_WORDS: Final[Mapping[str, Mapping[str, str]]] = {
    "eligibility": {"zh": "资格条件", "en": "eligibility"},
    "benefit": {"zh": "待遇金额", "en": "benefit"},
}

MESSAGES: Final[Mapping[str, Mapping[str, str]]] = {
    "in_key": {"zh": "{key}：{message}", "en": "{key}: {message}"},
    # -- the rule language (rules.language)
    "empty": {
        "zh": "{kind}为空；请写一个条件，例如 年龄 >= 80",
        "en": "the {kind} expression is empty; write a condition such as age >= 80",
    },
    "unknown_field": {
        "zh": "{entity}没有字段“{name}”；{hint}",
        "en": "unknown field {name!r} for {entity}s; {hint}",
    },
    "unknown_value": {
        "zh": "{field}没有取值“{value}”{hint}（可选：{allowed}）",
        "en": '{field} has no value "{value}"{hint} (allowed: {allowed})',
    },
    "unknown_tag": {
        "zh": '标签库中没有标签 "{tag}"；{hint}',
        "en": 'unknown tag "{tag}"; {hint}',
    },
    "tag_audience": {
        "zh": "“{tag}”是{other}的标签，{audience}不会有此标签，条件永远不成立",
        "en": '"{tag}" is a tag of {other}s; a {audience} never has it, so this never holds',
    },
    "syntax_end": {
        "zh": "表达式不完整：结尾缺少内容（运算对象、右括号或引号？）",
        "en": "the expression ends too early; something is missing at the end (an operand, "
        "a closing bracket or quote?)",
    },
    "syntax_unexpected": {
        "zh": "此处不应出现 {token!r}；请检查这里的运算符或取值",
        "en": "unexpected {token!r}; check the operator or value here",
    },
    "unsupported_token": {
        "zh": "此处不应出现 {token!r}{advice}",
        "en": "unexpected {token!r}{advice}",
    },
    "expects": {
        "zh": "{what} 需要{kinds}，这里是{found}",
        "en": "{what} expects {kinds}, found {found}",
    },
    "cannot_compare": {
        "zh": "不能用 {op} 比较{left}和{right}：两边必须是同一类型",
        "en": "cannot compare {left} with {right} using {op}; both sides must have the same type",
    },
    "wrong_kind": {
        "zh": "{kind}必须是{what}，这里是{found}",
        "en": "{kind} must be {what}, found {found}",
    },
    # -- checks of well-typed rules (rules.checks)
    "never_true": {
        "zh": "条件永远不成立：{why}；没有人能符合。{fix}",
        "en": "this never holds: {why}; nobody can be eligible. {fix}",
    },
    "always_true": {
        "zh": "条件对所有人都成立（包括信息未知的人）：它不限制任何人。{fix}",
        "en": "this holds for everyone, unknowns included: it restricts nobody. {fix}",
    },
    "true_when_known": {
        "zh": "只要{fields}已知，条件就成立：它只会让{fields}未知的人成为“可能符合”。{fix}",
        "en": "this holds for everyone whose {fields} is known: it only makes those whose "
        "{fields} is unknown 'maybe'. {fix}",
    },
    "idle_clause": {
        "zh": "“{clause}”不影响结果：信息齐全时，有没有它，符合条件的人都一样。{fix}",
        "en": "“{clause}” never changes who is eligible when the values are known: the rule "
        "reaches the same people with or without it. {fix}",
    },
    "unreachable_tier": {
        "zh": "这一档（{amount}）永远用不到：{why}。{fix}",
        "en": "this tier ({amount}) is never reached: {why}. {fix}",
    },
    "overlapping_tiers": {
        "zh": "第 {first} 档与第 {second} 档有交叉（例如 {example}）：同时满足的人只得第 {first} 档"
        "（{amount}）。若这是本意，请在第 {second} 档条件中写明；否则调整顺序或条件",
        "en": "tiers {first} and {second} overlap (e.g. {example}): whoever meets both gets "
        "tier {first} ({amount}), the first that matches. If that is meant, say so in tier "
        "{second}'s condition; otherwise reorder or narrow them",
    },
    # -- policy keys (rules.loader)
    "unknown_category": {
        "zh": "政策类别“{category}”不在固定列表中：居民按类别退订，新的名称会把同类政策分开。"
        "{hint}（可选：{allowed}）",
        "en": 'category "{category}" is not in the fixed list: residents opt out by category, '
        "so a new name splits one kind of policy in two. {hint}(allowed: {allowed})",
    },
    # -- decision tables of the policy form (rules.tables)
    "table_gap": {
        "zh": "有符合资格的人不落在任何一档（例如 {example}），将得到 0 元。请加一档覆盖他们，"
        "或填写“其他情况”的金额",
        "en": "some eligible people meet no row (e.g. {example}) and would get 0. Add a row "
        "for them, or give an amount for everyone else",
    },
}


def _pick(value: Any, lang: str) -> Any:
    if isinstance(value, Mapping) and set(value) <= {"zh", "en"} and value:
        return value.get(lang, value.get("en"))
    return value


def render(code: str, params: Mapping[str, Any], lang: str) -> str:
    """The message ``code`` with ``params`` in ``lang`` (zh, else en); an unknown code as is."""
    templates = MESSAGES.get(code)
    if templates is None:
        return code
    template = templates.get(lang, templates["en"])
    values = {k: _pick(v, lang) for k, v in params.items()}
    if code == "in_key":
        values["key"] = KEY_WORDS.get(values["key"], {}).get(lang, values["key"])
    return template.format(**values)
