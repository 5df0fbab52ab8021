"""One subject's links, as the per-subject path reads them: its household, the household's
members and its own children (for residents), its employments and staff (for firms).

A source (:mod:`matcher.live.source`) reads the links of the subjects it loads into one
:class:`SubjectGroups` (frames cut to those subjects' households, children and staff);
:meth:`SubjectGroups.apply` gives one subject's record what the batch run gives it: the fields
the links derive (``household_size``, ``household_income_per_capita``, ``children_under_3``;
``employees``, ``graduate_hires``, by ``profiles.links`` on the household or firm alone) and
the groups a rule over groups reads (``matcher.group_context``).  Explain, the test panel,
ingestion and the notifier's evidence so evaluate a subject on the values ``zhida match`` does.

>>> from datetime import date
>>> from profiles.schema import load_schema
>>> schema = load_schema()
>>> people = pl.DataFrame({"person_id": ["a", "b"], "household_id": ["h", "h"],
...     "relation_to_head": ["head", "child"], "birth_date": [date(1990, 1, 1), date(2025, 1, 1)],
...     "monthly_income": [3000.0, None]})
>>> groups = SubjectGroups.of(schema, {"resident": people,
...                                    "household": pl.DataFrame({"household_id": ["h"]})})
>>> typed_in = {**people.row(0, named=True), "household_size": 9}
>>> record = groups.apply(typed_in, schema.resident, as_of=date(2026, 1, 1))
>>> record["household_size"], record["household_income_per_capita"], record["children_under_3"]
(2, 1500.0, 1)
>>> record["@household"]["size"], len(record["@members"])
(2, 2)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from profiles.schema import Entity, Schema, load_schema

__all__ = [
    "KEYS",
    "LINKED_FIELDS",
    "PARENT_LINKS",
    "SubjectGroups",
    "conformed",
    "layered",
    "wanted",
]

# What the links derive for a subject, by entity (``profiles.links``: the batch's values).
_SCHEMA = load_schema()
LINKED_FIELDS = {e: _SCHEMA.entity(e).linked_fields for e in ("resident", "enterprise")}
PARENT_LINKS = ("mother_id", "father_id")  # a parent's children_under_3 counts these children


def conformed(frame: pl.DataFrame, entity: Entity) -> pl.DataFrame:
    """``frame`` with every stored field of ``entity`` in its dtype (absent ones unknown)."""
    present = frame.schema
    return frame.select(
        (
            pl.col(f.name).cast(f.polars_dtype)
            if f.name in present
            else pl.lit(None, dtype=f.polars_dtype)
        ).alias(f.name)
        for f in entity.stored_fields
    )


@dataclass(frozen=True)
class SubjectGroups:
    """The link frames some subjects' groups read (``resident``, ``household``,
    ``employment``), each in the schema's stored fields; a frame is absent when the source
    has no such links (a population without households.parquet matches as without links)."""

    schema: Schema
    frames: Mapping[str, pl.DataFrame]

    @classmethod
    def of(cls, schema: Schema, frames: Mapping[str, pl.DataFrame]) -> SubjectGroups:
        """Frames conformed to the schema (columns a source lacks are unknown)."""
        return cls(schema, {n: conformed(f, schema.entity(n)) for n, f in frames.items()})

    def without(self, dead: Collection[str]) -> SubjectGroups:
        """These links without the ``dead`` (a death registration on record): no member of a
        household, no one's employee (as :mod:`matcher.live.fanout` reads them)."""
        if not dead:
            return self
        gone = sorted(set(dead))
        frames = dict(self.frames)
        for name in ("resident", "employment"):
            if name in frames:
                frames[name] = frames[name].filter(~pl.col("person_id").is_in(gone))
        return SubjectGroups(self.schema, frames)

    def _residents(self, record: Mapping[str, Any], entity: Entity) -> pl.DataFrame:
        """The residents read, with ``record`` (the subject as evaluated now) in place of its
        stored row."""
        residents = self.frames["resident"]
        if entity.name != "resident":
            return residents
        pid = record.get("person_id")
        mine = conformed(
            pl.DataFrame([{f.name: record.get(f.name) for f in entity.stored_fields}]), entity
        )
        return pl.concat([residents.filter(pl.col("person_id") != pid), mine])

    def apply(self, record: Mapping[str, Any], entity: Entity, *, as_of: date) -> dict[str, Any]:
        """``record`` (derived on ``as_of``) with the fields its links give and its groups."""
        from matcher.group_context import with_group_context

        out = dict(record)
        if "resident" not in self.frames:
            return out
        residents = self._residents(record, entity)
        frames: dict[str, pl.LazyFrame] = {"resident": residents.lazy()}
        if entity.name == "resident" and "household" in self.frames:
            hid = record.get("household_id")
            homes = self.frames["household"].filter(pl.col("household_id") == hid)
            if hid is not None and homes.height:
                out.update(self._household_fields(residents, homes, record, as_of))
            frames["household"] = homes.lazy()
        if entity.name == "enterprise" and "employment" in self.frames:
            jobs = self.frames["employment"].filter(
                pl.col("enterprise_id") == record.get("enterprise_id")
            )
            out.update(self._employer_fields(jobs, residents, as_of))
            frames["employment"] = jobs.lazy()
        return with_group_context(out, entity, frames, as_of=as_of, schema=self.schema)

    @staticmethod
    def _household_fields(
        residents: pl.DataFrame, homes: pl.DataFrame, record: Mapping[str, Any], as_of: date
    ) -> dict[str, Any]:
        from profiles.links import with_links

        pid, hid = record.get("person_id"), record.get("household_id")
        near = pl.col("household_id") == hid
        for link in PARENT_LINKS:
            near = near | (pl.col(link) == pid).fill_null(False)
        linked = with_links(
            {"resident": residents.filter(near).lazy(), "household": homes.lazy()}, as_of=as_of
        )
        row = linked["resident"].filter(pl.col("person_id") == pid).collect()
        if not row.height:
            return {}
        return {name: row[name][0] for name in LINKED_FIELDS["resident"]}

    @staticmethod
    def _employer_fields(
        jobs: pl.DataFrame, residents: pl.DataFrame, as_of: date
    ) -> dict[str, Any]:
        from profiles.links import employer_aggregates

        counts = employer_aggregates(jobs.lazy(), residents.lazy(), as_of=as_of).collect()
        if (
            not counts.height
        ):  # a firm with no employment on file has none: the links are the record
            return {"employees": 0, "graduate_hires": 0}
        return {name: counts[name][0] for name in LINKED_FIELDS["enterprise"]}


KEYS = {  # each link frame's key
    "resident": ["person_id"],
    "household": ["household_id"],
    "enterprise": ["enterprise_id"],
    # one person's job at one firm from one day
    "employment": [_SCHEMA.resident.key or "", _SCHEMA.enterprise.key or "", "hired_on"],
}


def layered(over: SubjectGroups | None, under: SubjectGroups | None) -> SubjectGroups | None:
    """``over``'s rows winning over ``under``'s of the same key (the database over files)."""
    if over is None or under is None:
        return over or under
    frames = dict(under.frames)
    for name, frame in over.frames.items():
        below = frames.get(name)
        frames[name] = (
            frame
            if below is None
            else pl.concat([frame, below]).unique(KEYS[name], keep="first", maintain_order=True)
        )
    return SubjectGroups(over.schema, frames)


def wanted(records: Mapping[str, tuple[Entity, Mapping[str, Any]]]) -> tuple[set[str], ...]:
    """The ids whose links ``records`` read: (households, persons, firms)."""
    homes = {
        str(r["household_id"])
        for e, r in records.values()
        if e.name == "resident" and r.get("household_id") is not None
    }
    people = {sid for sid, (e, _) in records.items() if e.name == "resident"}
    firms = {sid for sid, (e, _) in records.items() if e.name == "enterprise"}
    return homes, people, firms
