"""A rule clause in plain words for residents and firms: field names as the schema names them.

An officer writes ``age >= 80 and hukou_city == "北京市"``; the resident reads
``年龄 不低于 80`` and ``户籍城市 为 “北京市”``.  The clause is tokenised (strings kept whole),
each schema field becomes its Chinese name (or its words in English), each operator a word;
a tag test says "has the tag" with the tag's Chinese name from the tag library, and a value of
an enum field its label (``values_zh``/``values_en``: 特困, not tekun).

>>> from profiles.schema import load_schema
>>> resident = load_schema().entity("resident")
>>> plain_clause('age >= 80', resident, "zh")
'年龄 不低于 80'
>>> plain_clause('hukou_city == "北京市"', resident, "en")
'hukou city is “北京市”'
>>> plain_clause('not ("new_parent" in tags)', resident, "zh", {"new_parent": "新生儿父母"})
'并非 （ 有标签“新生儿父母” ）'
>>> plain_clause('subsistence_status in ["tekun", "dibao"]', resident, "zh")
'社会救助类别 属于 [ “特困” , “低保” ]'
>>> plain_clause('"tekun" == subsistence_status', resident, "en")
'“extreme poverty support” is subsistence status'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Final

from profiles.schema import Entity
from profiles.schema import Field as SchemaField
from rules.parameters import active

__all__ = ["plain_clause", "plain_counterfactual", "plain_reason", "plain_value", "tag_names"]

_TOKEN = re.compile(
    r"""(?P<tag>(?P<q>["'])(?P<tagname>[^"']*)(?P=q)\s+in\s+(?:tags\b|标签))"""
    r"""|(?P<date>d(?P<dq>["'])(?P<day>[^"']*)(?P=dq))"""
    # one branch per quote, a backslash only ever as an escape: linear even on an unclosed
    # quote before a run of backslashes (a comment can hold one), which stalled the old form
    r"""|(?P<str>"(?P<text>(?:[^"\\\n]|\\.)*)"|'(?P<text2>(?:[^'\\\n]|\\.)*)')"""
    r"""|(?P<param>(?:parameters|参数)\s*\.\s*(?P<pname>[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]*))"""
    r"""|(?P<name>\$?[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]*)"""
    r"""|(?P<num>\d+(?:\.\d+)?)"""
    r"""|(?P<op>=~~|=~|>=|<=|==|!=|[<>()\[\],+\-*/%?:])"""
)

_WORDS: Final[dict[str, dict[str, str]]] = {
    "zh": {
        ">=": "不低于", "<=": "不高于", ">": "高于", "<": "低于", "==": "为", "!=": "不为",
        "=~": "开头符合", "=~~": "包含", "and": "并且", "or": "或者", "not": "并非",
        "in": "属于", "true": "是", "false": "否", "$today": "评估日", "tags": "标签",
        "(": "（", ")": "）", "has_tag": "有标签", "?": "则", ":": "否则",
    },
    "en": {
        ">=": "at least", "<=": "at most", ">": "above", "<": "below", "==": "is",
        "!=": "is not", "=~": "starts like", "=~~": "contains", "and": "and", "or": "or",
        "not": "not", "in": "in", "true": "yes", "false": "no", "$today": "the assessment day",
        "tags": "tags", "(": "(", ")": ")", "has_tag": "has the tag", "?": "then",
        ":": "else",
    },
}  # fmt: skip


def _field_words(name: str, entity: Entity, lang: str) -> str | None:
    found = entity.by_name.get(name) or entity.by_name_zh.get(name)
    if found is None:
        return None
    if lang == "zh":
        return found.name_zh or found.name
    return found.name.replace("_", " ")


def _parameter_words(name: str, lang: str) -> str:
    """A parameter by its name in ``lang`` (低保标准, dibao standard), as the officer wrote it
    when the library has no such name."""
    found = active().get(name)
    if found is None:
        return name
    return found.name_zh if lang == "zh" else found.name.replace("_", " ")


def plain_clause(
    text: str, entity: Entity, lang: str, tag_names: Mapping[str, str] | None = None
) -> str:
    """``text`` (one clause of a rule) with fields, operators and tags in words of ``lang``."""
    words = _WORDS.get(lang, _WORDS["zh"])
    tag_names = tag_names or {}
    out: list[str] = []
    found = list(_TOKEN.finditer(text))
    for i, m in enumerate(found):
        if m["tag"]:
            tag = m["tagname"]
            shown = tag_names.get(tag, tag) if lang == "zh" else tag.replace("_", " ")
            out.append(f"{words['has_tag']}{'' if lang == 'zh' else ' '}“{shown}”")
        elif m["date"]:
            out.append(m["day"])
        elif m["str"]:
            value = m["text"] if m["text"] is not None else m["text2"]
            enum = _compared_enum(found, i, entity)
            if enum is not None and value in enum.values:
                value = enum.label(value, lang)
            out.append(f"“{value}”")
        elif m["param"]:
            out.append(_parameter_words(m["pname"], lang))
        elif m["name"]:
            name = m["name"]
            out.append(_field_words(name, entity, lang) or words.get(name.lower(), name))
        elif m["num"]:
            out.append(m["num"])
        else:
            out.append(words.get(m["op"], m["op"]))
    return " ".join(out)


_CLAUSE_ENDS: Final = frozenset(("and", "or", "not", "?", ":", "(", ")"))


def _compared_enum(found: list[re.Match[str]], at: int, entity: Entity) -> SchemaField | None:
    """The enum field the string at ``found[at]`` is compared with: the nearest field before it
    in its comparison (``f == "v"``, ``f in ["a", "v"]``), else the one after (``"v" == f``)."""
    for step in (-1, 1):
        i = at + step
        while 0 <= i < len(found):
            m = found[i]
            if m["tag"] or (m["op"] and m["op"] in _CLAUSE_ENDS):
                break
            if m["name"]:
                if m["name"].lower() in _CLAUSE_ENDS:
                    break
                f = entity.by_name.get(m["name"]) or entity.by_name_zh.get(m["name"])
                if f is not None:
                    return f if f.values else None
            i += step
    return None


_MARKS: Final = ("✓", "✗", "?")
_TO_CONFIRM: Final = "待确认 "  # how notifier.evidence.reason_lines starts a maybe's question


def plain_reason(
    line: str, entity: Entity, lang: str, tag_names: Mapping[str, str] | None = None
) -> str:
    """A line of an explanation (a clause and its mark, ``age >= 80 ✓``) in plain words, the
    mark kept: what a notice tells its reader.

    >>> from profiles.schema import load_schema
    >>> resident = load_schema().entity("resident")
    >>> plain_reason('"new_parent" in tags ✓', resident, "zh", {"new_parent": "新生儿父母"})
    '有标签“新生儿父母” ✓'
    >>> plain_reason('待确认 hukou_city: hukou_city == "北京市" 或 age > 1', resident, "en")
    'to confirm hukou city: hukou city is “北京市” or age above 1'
    """
    if line.startswith(_TO_CONFIRM):  # a maybe: the fact that would settle it, and how
        field, _, ask = line.removeprefix(_TO_CONFIRM).partition(": ")
        said = _field_words(field.strip(), entity, lang) or field.strip()
        head = f"{_TO_CONFIRM}{said}" if lang == "zh" else f"to confirm {said}"
        if not ask:
            return head
        joiner = " 或 " if lang == "zh" else " or "
        alternatives = (plain_clause(a, entity, lang, tag_names) for a in ask.split(" 或 "))
        return (
            f"{head}：{joiner.join(alternatives)}"
            if lang == "zh"
            else (f"{head}: {joiner.join(alternatives)}")
        )
    text, _, mark = line.rstrip().rpartition(" ")
    if mark not in _MARKS:
        text, mark = line.rstrip(), ""
    words = plain_clause(text, entity, lang, tag_names)
    return f"{words} {mark}" if mark else words


_COUNTERFACTUAL: Final = re.compile(r"^eligible if (?P<want>.*); it is (?P<have>.*)$", re.S)


def plain_counterfactual(
    text: str | None, entity: Entity, lang: str, tag_names: Mapping[str, str] | None = None
) -> str | None:
    """The explainer's "eligible if …; it is …" (``rules.explainer``) in plain words: how a
    failed or unknown clause would be met, and the value it read ("***" when masked).

    >>> from profiles.schema import load_schema
    >>> resident = load_schema().entity("resident")
    >>> plain_counterfactual('eligible if hukou_city == "北京市"; it is unknown', resident, "zh")
    '需 户籍城市 为 “北京市”；当前为 未知'
    >>> plain_counterfactual('eligible if gender == "female"; it is "male"', resident, "zh")
    '需 性别 为 “女”；当前为 男'
    >>> plain_counterfactual("eligible if age >= 80; it is 75", resident, "en")
    'eligible if age at least 80; it is 75'
    """
    if text is None:
        return None
    m = _COUNTERFACTUAL.match(text)
    if m is None:
        return text
    want = plain_clause(m["want"], entity, lang, tag_names)
    have = m["have"]
    first = _TOKEN.search(m["want"])
    field = None
    if first is not None and first["name"]:
        field = entity.by_name.get(first["name"]) or entity.by_name_zh.get(first["name"])
    if have == "unknown":
        have = plain_value(None, lang)
    elif len(have) >= 2 and have[0] == have[-1] == '"':
        have = plain_value(have[1:-1], lang, field)
    if lang == "zh":
        return f"需 {want}；当前为 {have}"
    return f"eligible if {want}; it is {have}"


@cache
def tag_names() -> Mapping[str, str]:
    """The tag library's Chinese names by tag id, read once per process (~0.1 s to parse)."""
    from profiles.tagging.definitions import load_tags

    return MappingProxyType({tag.id: tag.name_zh for tag in load_tags()})


def plain_value(value: object, lang: str, field: SchemaField | None = None) -> str:
    """A value of ``field`` as a resident reads it: unknown, yes/no, an enum's label, lists
    joined.

    >>> plain_value(None, "zh"), plain_value(True, "en"), plain_value(["a", "b"], "zh")
    ('未知', 'yes', 'a、b')
    >>> from profiles.schema import load_schema
    >>> plain_value("tekun", "zh", load_schema().resident.field("subsistence_status"))
    '特困'
    """
    if value is None:
        return "未知" if lang == "zh" else "unknown"
    if isinstance(value, bool):
        return _WORDS.get(lang, _WORDS["zh"])["true" if value else "false"]
    if isinstance(value, list | tuple | set | frozenset):
        return ("、" if lang == "zh" else ", ").join(str(v) for v in value)
    if isinstance(value, str) and field is not None and field.values:
        return field.label(value, lang)
    return str(value)
