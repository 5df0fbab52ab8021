"""One subject's groups, for the per-subject path: its household and members, or its staff.

The batch joins group values to whole batches (``matcher.batch``); explaining one subject reads
the same values from its record, which carries them under ``rules.groups``' reserved keys
(``@household``, ``@members``, ``@employees``).  :func:`with_group_context` reads them from a
population's frames, deriving the household's aggregates with ``profiles.links`` on the
household alone, so one subject's answer equals the batch's.

>>> from datetime import date
>>> from profiles.schema import load_schema
>>> schema = load_schema()
>>> people = pl.LazyFrame({"person_id": ["a", "b"], "household_id": ["h", "h"],
...     "relation_to_head": ["head", "child"], "birth_date": [date(1990, 1, 1), date(2025, 1, 1)],
...     "monthly_income": [3000.0, None]}).with_columns(
...     pl.lit(None, pl.Int64).alias(c) for c in ("household_size", "children_under_3"))
>>> frames = {"resident": people.with_columns(household_income_per_capita=pl.lit(None, pl.Float64)),
...           "household": pl.LazyFrame({"household_id": ["h"]})}
>>> record = with_group_context({"person_id": "a", "household_id": "h"}, schema.resident,
...                             frames, as_of=date(2026, 1, 1), schema=schema)
>>> record["@household"]["income_per_capita"], [m["age"] for m in record["@members"]]
(1500.0, [36, 1])
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import polars as pl

from profiles.derive import with_derived
from profiles.schema import Entity, Schema
from rules.groups import EMPLOYEES, HOUSEHOLD, MEMBERS

__all__ = ["with_group_context"]


def _household(
    hid: str, frames: Mapping[str, pl.LazyFrame], as_of: date, schema: Schema
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    from profiles.links import with_links

    residents = frames["resident"].filter(pl.col("household_id") == hid)
    homes = frames["household"].filter(pl.col("household_id") == hid)
    linked = with_links({"resident": residents, "household": homes}, as_of=as_of)
    members = with_derived(linked["resident"], schema.resident, as_of=as_of).collect().to_dicts()
    rows = linked["household"].collect().to_dicts()
    return (rows[0] if rows else None), members


def with_group_context(
    record: Mapping[str, Any],
    entity: Entity,
    frames: Mapping[str, pl.LazyFrame],
    *,
    as_of: date,
    schema: Schema,
) -> dict[str, Any]:
    """``record`` with the groups a rule of ``entity`` reads (none without the link files);
    a household's record gains its aggregates over its members (``profiles.links``)."""
    out = dict(record)
    if entity.name in ("resident", "household") and {"resident", "household"} <= frames.keys():
        hid = record.get("household_id")
        if hid is not None:
            home, members = _household(str(hid), frames, as_of, schema)
            if home is not None:  # a household's own aggregates come from its members
                out.update({HOUSEHOLD: home} if entity.name == "resident" else home)
            out[MEMBERS] = members
    if entity.name == "enterprise" and {"resident", "employment"} <= frames.keys():
        jobs = frames["employment"].filter(pl.col("enterprise_id") == record.get("enterprise_id"))
        people = with_derived(frames["resident"], schema.resident, as_of=as_of)
        own = set(jobs.collect_schema().names())
        person = [c for c in people.collect_schema().names() if c not in own or c == "person_id"]
        staff = jobs.join(people.select(person), on="person_id", how="left")
        out[EMPLOYEES] = staff.collect().to_dicts()
    return out
