"""What an officer may write instead of an id: a tag's Chinese name, an enum value's label.

Residents read 新生儿父母 and 特困 in notices, so officers write them too.  A rule may name a tag
of the tag library (标签库) by its id or its Chinese name, and an enum value by the value or its
label (``values_zh``/``values_en`` of the schema); the rule language rewrites each to the id or
value before anything compiles it, as it does field names.  A tag the library does not have, or
one of the other audience, is refused: no subject ever has it, so the rule would reach nobody.

>>> tag_id("新生儿父母", "resident"), tag_id("new_parent", "resident")
('new_parent', 'new_parent')
>>> tag_id("育儿家庭", "resident") is None
True
>>> print(unknown_tag_hint("新生儿", "resident", "zh"))
您是否要写 "新生儿父母"（new_parent）？
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from rules.suggest import nearest

__all__ = ["TagName", "tag_audience", "tag_id", "tag_library", "unknown_tag_hint"]

_LIST_AT_MOST = 30  # tags listed when nothing is close


@dataclass(frozen=True)
class TagName:
    id: str
    name_zh: str
    audience: str


@cache
def tag_library() -> tuple[TagName, ...]:
    """The built-in tag library's names, read once per process."""
    from profiles.tagging.definitions import load_tags

    return tuple(TagName(t.id, t.name_zh, t.audience) for t in load_tags())


def _of(audience: str) -> list[TagName]:
    return [t for t in tag_library() if t.audience == audience]


def tag_id(text: str, audience: str) -> str | None:
    """The id of the tag ``text`` names (its id or Chinese name) for ``audience``, else None."""
    for tag in _of(audience):
        if text in (tag.id, tag.name_zh):
            return tag.id
    return None


def tag_audience(text: str) -> str | None:
    """The audience of the tag ``text`` names for either audience (None: no such tag).

    >>> tag_audience("新办企业"), tag_audience("nothing")
    ('enterprise', None)
    """
    for tag in tag_library():
        if text in (tag.id, tag.name_zh):
            return tag.audience
    return None


def unknown_tag_hint(text: str, audience: str, lang: str) -> str:
    """The fix for an unknown tag: the nearest tag by id or Chinese name, else the list."""
    tags = _of(audience)
    by_word = {t.id: t for t in tags} | {t.name_zh: t for t in tags}
    near = nearest(text, by_word)
    if near is not None:
        tag = by_word[near]
        if lang == "zh":
            return f'您是否要写 "{tag.name_zh}"（{tag.id}）？'
        return f'did you mean "{tag.id}" ({tag.name_zh})?'
    more = "…" if len(tags) > _LIST_AT_MOST else ""
    if lang == "zh":
        shown = "、".join(f"{t.name_zh}（{t.id}）" for t in tags[:_LIST_AT_MOST])
        return f"标签库中的标签有：{shown}{more}"
    shown = ", ".join(f"{t.id} ({t.name_zh})" for t in tags[:_LIST_AT_MOST])
    return f"the tag library has: {shown}{more}"
