"""Compute tags for a whole population from its event log: one group-by, no Python per subject.

Every event condition of every tag becomes one aggregate of a single ``group_by`` over the
events (counts in a window, first occurrence); the tags are then columns of one ``select`` over
the subjects joined with those aggregates.  A subject with no events has the aggregates of
nobody (zero counts): its tag set is known, and possibly empty.  The same function on one
subject's events is the incremental update (``tags_for_subject``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import polars as pl

from profiles.derive import with_derived
from profiles.schema import Entity, Schema, load_schema
from profiles.tagging.definitions import Condition, TagDefinition, Window

__all__ = ["compute_tags", "tags_for_subject", "window_start"]

_OPS = {
    "==": lambda c, v: c == v,
    "!=": lambda c, v: c != v,
    "<": lambda c, v: c < v,
    "<=": lambda c, v: c <= v,
    ">": lambda c, v: c > v,
    ">=": lambda c, v: c >= v,
    "in": lambda c, v: c.is_in(list(v)),
}


def window_start(as_of: date, window: Window) -> date:
    """The day before a window ending on ``as_of`` begins (events after it count).

    >>> window_start(date(2026, 3, 31), Window(months=1))
    datetime.date(2026, 2, 28)
    """
    spec = f"-{window.years}y{window.months}mo{window.days}d"
    start = pl.select(pl.lit(as_of).dt.offset_by(spec)).item()
    assert isinstance(start, date)
    return start


def _walk(condition: Condition) -> Iterator[Condition]:
    yield condition
    for part in condition.parts:
        yield from _walk(part)


def _event_hits(c: Condition, as_of: date, name: str) -> tuple[pl.Expr, pl.Expr]:
    """Per event, whether it counts for ``c`` (or its day, for first_event); per subject, how.

    The per-event column is computed over the whole event frame before the group-by, so the
    group-by only sums or takes minima: elementwise work inside an aggregation would run once
    per subject.
    """
    day = pl.col("occurred_at").dt.date()
    hit = pl.col("item_code").is_in(list(c.items))
    if c.kind == "first_event":
        return pl.when(hit).then(day).alias(name), pl.col(name).min()
    if c.window is not None:
        hit = hit & (day > window_start(as_of, c.window))
    return hit.alias(name), pl.col(name).sum()


def _truth(c: Condition, names: Mapping[int, str], as_of: date) -> pl.Expr:
    if c.kind == "all":
        return pl.all_horizontal(_truth(p, names, as_of) for p in c.parts)
    if c.kind == "any":
        return pl.any_horizontal(_truth(p, names, as_of) for p in c.parts)
    if c.kind == "none":
        return ~pl.any_horizontal(_truth(p, names, as_of) for p in c.parts)
    if c.kind == "field":
        assert c.field is not None and c.op is not None
        compared: pl.Expr = _OPS[c.op](pl.col(c.field), c.value)
        return compared.fill_null(False)
    value = pl.col(names[id(c)])
    if c.kind == "first_event":
        assert c.window is not None
        return (value > window_start(as_of, c.window)).fill_null(False)
    if c.kind == "no_events":
        return value.fill_null(0) == 0
    count = value.fill_null(0)
    ok = count >= c.at_least
    return ok & (count <= c.at_most) if c.at_most is not None else ok


def compute_tags(
    subjects: pl.LazyFrame,
    events: pl.LazyFrame,
    tags: Sequence[TagDefinition],
    *,
    entity: Entity,
    as_of: date,
) -> pl.LazyFrame:
    """``(subject_id, tags)`` for every subject of ``entity`` in ``subjects``.

    ``subjects`` has the entity's stored columns (derived ones are computed here); ``events``
    has the event columns.  Only events up to the end of ``as_of`` count.
    """
    assert entity.key is not None
    mine = [t for t in tags if t.audience == entity.name]
    conditions = [
        c for t in mine for c in _walk(t.when) if c.kind in ("events", "no_events", "first_event")
    ]
    names = {id(c): f"__c{i}" for i, c in enumerate(conditions)}
    base = with_derived(subjects, entity, as_of=as_of)
    if conditions:
        end = datetime.combine(as_of, datetime.max.time())
        per_event, per_subject = zip(
            *(_event_hits(c, as_of, names[id(c)]) for c in conditions), strict=True
        )
        aggregates = (
            events.filter(
                (pl.col("subject_type").cast(pl.String) == entity.name)
                & (pl.col("occurred_at") <= end)
            )
            .with_columns(pl.col("item_code").cast(pl.String))
            .select("subject_id", *per_event)
            .group_by("subject_id")
            .agg(per_subject)
        )
        base = base.join(aggregates, left_on=entity.key, right_on="subject_id", how="left")
    # The list is built from one joined string ("a,b,"): building it with concat_list from a
    # column per tag costs ten times as much.  Tag ids never hold commas.
    joined = pl.concat_str(
        [
            pl.when(_truth(t.when, names, as_of)).then(pl.lit(f"{t.id},")).otherwise(pl.lit(""))
            for t in mine
        ]
    )
    tag_list = (
        pl.when(joined == "")
        .then(pl.lit([], pl.List(pl.String)))
        .otherwise(joined.str.strip_suffix(",").str.split(","))
        if mine
        else pl.lit([], pl.List(pl.String))
    )
    return base.select(pl.col(entity.key).alias("subject_id"), tag_list.alias("tags"))


def tags_for_subject(
    record: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    tags: Sequence[TagDefinition],
    *,
    entity: Entity,
    as_of: date,
    schema: Schema | None = None,
) -> list[str]:
    """One subject's tags from its profile and its events (the incremental update)."""
    schema = schema or load_schema()
    stored = entity.polars_schema()
    subject = pl.LazyFrame([{k: record.get(k) for k in stored}], schema=stored)
    event_frame = pl.LazyFrame(list(events), schema=schema.event.polars_schema())
    out = compute_tags(subject, event_frame, tags, entity=entity, as_of=as_of).collect()
    return list(out["tags"][0])
