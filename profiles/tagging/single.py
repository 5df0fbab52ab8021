"""One subject's tags in plain Python: the fast path for event-driven matching.

The same definitions and semantics as ``profiles.tagging.batch`` (a test holds the two equal),
evaluated over one subject's event list in microseconds rather than a query per event.

>>> from datetime import date, datetime
>>> from profiles.schema import load_schema
>>> from profiles.tagging.definitions import load_tags
>>> events = [{"item_code": "birth_registration", "occurred_at": datetime(2026, 5, 1, 9)}]
>>> sorted(subject_tags({"birth_date": date(1990, 1, 1)}, events, load_tags(),
...                     entity=load_schema().resident, as_of=date(2026, 6, 30)))
['lapsed_insurance', 'new_parent']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from profiles.derive import derive_record
from profiles.schema import Entity
from profiles.tagging.definitions import Condition, TagDefinition, Window

__all__ = ["subject_tags", "tag_evidence"]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "in": lambda a, b: a in b,
}


@cache
def _start(as_of: date, window: Window) -> date:
    from profiles.tagging.batch import window_start

    return window_start(as_of, window)


def _day(value: Any) -> date:
    day: date = value.date() if isinstance(value, datetime) else value
    return day


def _holds(
    c: Condition, record: Mapping[str, Any], days: Mapping[str, list[date]], as_of: date
) -> bool:
    if c.kind == "all":
        return all(_holds(p, record, days, as_of) for p in c.parts)
    if c.kind == "any":
        return any(_holds(p, record, days, as_of) for p in c.parts)
    if c.kind == "none":
        return not any(_holds(p, record, days, as_of) for p in c.parts)
    if c.kind == "field":
        value = record.get(c.field or "")
        return value is not None and bool(_OPS[c.op or "=="](value, c.value))
    hits = [d for item in c.items for d in days.get(item, ())]
    if c.kind == "first_event":
        assert c.window is not None
        return bool(hits) and min(hits) > _start(as_of, c.window)
    if c.window is not None:
        start = _start(as_of, c.window)
        hits = [d for d in hits if d > start]
    if c.kind == "no_events":
        return not hits
    return len(hits) >= c.at_least and (c.at_most is None or len(hits) <= c.at_most)


def subject_tags(
    record: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    tags: Sequence[TagDefinition],
    *,
    entity: Entity,
    as_of: date,
) -> set[str]:
    """The tags of one subject (its stored fields in ``record``) from its events."""
    full = derive_record(record, entity, as_of=as_of)
    days: dict[str, list[date]] = {}
    for event in events:
        day = _day(event["occurred_at"])
        if day <= as_of:
            days.setdefault(str(event["item_code"]), []).append(day)
    return {t.id for t in tags if t.audience == entity.name and _holds(t.when, full, days, as_of)}


def _items(c: Condition) -> set[str]:
    return set(c.items).union(*(_items(p) for p in c.parts)) if c.parts else set(c.items)


def tag_evidence(
    record: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    tag: TagDefinition,
    *,
    entity: Entity,
    as_of: date,
) -> dict[str, Any]:
    """Why one subject has (or lacks) ``tag``: its meaning, owner and the events it read.

    >>> from datetime import datetime
    >>> from profiles.schema import load_schema
    >>> from profiles.tagging.definitions import load_tags
    >>> tag = next(t for t in load_tags() if t.id == "new_parent")
    >>> events = [{"item_code": "birth_registration", "occurred_at": datetime(2026, 5, 1, 9)}]
    >>> evidence = tag_evidence({}, events, tag, entity=load_schema().resident,
    ...                         as_of=date(2026, 6, 30))
    >>> evidence["has"], evidence["events"]
    (True, [{'item_code': 'birth_registration', 'date': '2026-05-01'}])
    """
    has = tag.id in subject_tags(record, events, [tag], entity=entity, as_of=as_of)
    wanted = _items(tag.when)
    read = sorted(
        (str(e["item_code"]), _day(e["occurred_at"]))
        for e in events
        if str(e["item_code"]) in wanted and _day(e["occurred_at"]) <= as_of
    )
    return {
        "tag": tag.id,
        "name_zh": tag.name_zh,
        "zh": tag.zh,
        "en": tag.en,
        "owner": tag.owner,
        "has": has,
        "events": [{"item_code": item, "date": day.isoformat()} for item, day in read],
    }
