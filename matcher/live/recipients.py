"""Who is told for a household on the event path: its contact person, else its head.

A change ingested for one member of a household-unit policy is the household's
(:func:`matcher.units.unit_change_rows`); its recipient is read here from wherever the server
reads subjects: the database's households and residents, else the population files.

>>> import polars as pl
>>> frames = {"resident": pl.LazyFrame({"person_id": ["a", "b"], "household_id": ["h", "h"],
...                                      "relation_to_head": ["spouse", "head"]}),
...           "household": pl.LazyFrame({"household_id": ["h"], "contact_person_id": [None]})}
>>> heads_in_frames(frames, ["h", "x"])
{'h': 'b'}
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import polars as pl
import sqlalchemy as sa

from matcher.live.source import DatabaseSource, FileSource, LayeredSource, SubjectSource

__all__ = ["heads_in_frames", "household_heads"]

_CHUNK = 500


def household_heads(source: SubjectSource, household_ids: Collection[str]) -> dict[str, str]:
    """Household id → who is told for it (contact person, else head), for those known."""
    ids = sorted(set(household_ids))
    if not ids:
        return {}
    if isinstance(source, LayeredSource):
        found = household_heads(source.database, ids)
        rest = [h for h in ids if h not in found]
        if rest and source.files is not None:
            found.update(household_heads(source.files, rest))
        return found
    if isinstance(source, DatabaseSource):
        return _heads_in_database(source, ids)
    if isinstance(source, FileSource):
        return heads_in_frames(source.frames(), ids)
    return {}


def heads_in_frames(frames: Mapping[str, pl.LazyFrame], ids: Collection[str]) -> dict[str, str]:
    """:func:`household_heads` from a population's frames."""
    residents = frames.get("resident")
    if residents is None or "household_id" not in residents.collect_schema().names():
        return {}
    wanted = list(ids)
    heads = dict(
        residents.filter(
            pl.col("household_id").is_in(wanted) & (pl.col("relation_to_head") == "head")
        )
        .select("household_id", "person_id")
        .collect()
        .rows()
    )
    homes = frames.get("household")
    if homes is not None and "contact_person_id" in homes.collect_schema().names():
        contacts = homes.filter(pl.col("household_id").is_in(wanted)).select(
            "household_id", "contact_person_id"
        )
        heads.update({h: c for h, c in contacts.collect().rows() if c is not None})
    return {str(h): str(p) for h, p in heads.items()}


def _heads_in_database(source: DatabaseSource, ids: list[str]) -> dict[str, str]:
    residents, homes = source.tables["resident"], source.tables.get("household")
    found: dict[str, str] = {}
    with source.connection() as conn:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            query = sa.select(residents.c.household_id, residents.c.person_id).where(
                residents.c.household_id.in_(chunk), residents.c.relation_to_head == "head"
            )
            found.update((str(h), str(p)) for h, p in conn.execute(query))
            if homes is not None:
                query = sa.select(homes.c.household_id, homes.c.contact_person_id).where(
                    homes.c.household_id.in_(chunk), homes.c.contact_person_id.is_not(None)
                )
                found.update((str(h), str(p)) for h, p in conn.execute(query))
    return found
