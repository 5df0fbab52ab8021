"""Ingestion across links: what one ingested record, employment or event changes for every unit
it reaches, read from the server's source and matched as the batch run matches.

:mod:`matcher.live.linked` decides, on small frames, which units an event reaches and their
new pairs; this module gives it those frames from a :class:`~matcher.live.source.SubjectSource`
(the database, files, or the database over files): :func:`neighbourhood` reads the records
around what was touched — the touched people, their households with every member, their
parents and children, the households of those, every employment of them, and each employer's
every employment with its staff and their households — which holds everything
:func:`~matcher.live.linked.affected` and :func:`~matcher.live.linked.context` read.  Read once
before a write and once after it, in the writing transaction, the two neighbourhoods give
:func:`~matcher.live.linked.rematch` what changed.  Residents carry the tags their events give
on the as-of date, as the batch run's frames do.

A resident whose event log holds a death registration (死亡登记) is gone from the day it is
ingested: not a member of any household, not anyone's employee, with no offers (the
timeline's population drops the dead in the same way).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

import polars as pl

from matcher.live.groups import KEYS
from matcher.live.linked import Affected, Touched, affected, rematch
from matcher.units import PAIRS_SCHEMA, match_units_frame
from profiles.schema import load_schema

if TYPE_CHECKING:
    from profiles.schema import Schema
    from rules.policy import Policy

__all__ = ["DEATH", "LinkedRows", "has_links", "neighbourhood", "pairs_frame", "rematch_linked"]

DEATH = "death_registration"
_PARENTS = load_schema().resident.guardian_fields  # who a child's offers are told to


class LinkedRows(Protocol):
    """A source that reads link rows by column (``SubjectSource`` implementations do)."""

    schema: Schema

    def linked_where(self, name: str, wanted: Mapping[str, Collection[str]]) -> pl.DataFrame: ...

    def deaths(self, person_ids: Collection[str]) -> set[str]: ...

    def tagged(
        self, subject_ids: Collection[str], as_of: date, entity: str | None = None
    ) -> dict[str, tuple[Any, dict[str, Any]]]: ...


def _ids(frame: pl.DataFrame, column: str) -> set[str]:
    if column not in frame.columns:
        return set()
    return {str(v) for v in frame.get_column(column).drop_nulls().to_list()}


def _union(frames: Sequence[pl.DataFrame], key: list[str]) -> pl.DataFrame:
    return pl.concat(frames, how="diagonal_relaxed").unique(key, keep="first", maintain_order=True)


def _people_around(
    source: LinkedRows, people: set[str], homes: Collection[str] = ()
) -> pl.DataFrame:
    """The rows of ``people``, their households' members (and of ``homes``), parents and
    children: two reads, the people with their children, then the households and parents."""
    wanted: dict[str, Collection[str]] = {"person_id": people}
    wanted.update({link: people for link in _PARENTS})
    rows = source.linked_where("resident", wanted)
    parents = set().union(*(_ids(rows, link) for link in _PARENTS)) - _ids(rows, "person_id")
    more = source.linked_where(
        "resident", {"household_id": _ids(rows, "household_id") | set(homes), "person_id": parents}
    )
    return _union([rows, more], ["person_id"])


def neighbourhood(
    source: LinkedRows, touched: Touched, as_of: date, *, tagged: bool = True,
    wide: bool = True,
) -> dict[str, pl.DataFrame]:  # fmt: skip
    """The frames around ``touched`` (``resident``, ``household``, ``enterprise``,
    ``employment``; see the module docstring), the dead left out, residents and firms with
    the tags their events give on ``as_of`` (``tagged``; else the tags as stored).

    Not ``wide``: only what the touched residents' own pairs read (their households, parents
    and children; no second hop, no employments), for an event that reaches no one else
    (:mod:`matcher.live.reach`)."""
    people = set(touched.residents) | {p for p, _ in touched.employments}
    firms = set(touched.enterprises) | {e for _, e in touched.employments}
    homes = set(touched.households)
    residents = _people_around(source, people, homes)
    if not wide:
        return _own(source, residents, as_of, tagged=tagged)
    # Two hops: the households of the parents and children of the touched are reached too.
    residents = _union([residents, _people_around(source, _ids(residents, "person_id"))],
                       ["person_id"])  # fmt: skip
    jobs = source.linked_where(
        "employment", {"person_id": _ids(residents, "person_id"), "enterprise_id": firms}
    )
    if more_firms := _ids(jobs, "enterprise_id") - firms:  # the staff of the people's employers
        firms |= more_firms
        jobs = _union(
            [jobs, source.linked_where("employment", {"enterprise_id": more_firms})],
            KEYS["employment"],
        )
    if tagged:
        # Those whose pairs may be matched again carry the tags their events give; an
        # employer's other staff (and their households), read for the firm's counts, keep
        # their stored tags: tagging a large firm's staff one by one would cost seconds.
        residents = _tagged(source, residents, "resident", "person_id", as_of)
    staff = _ids(jobs, "person_id") - _ids(residents, "person_id")
    if staff:
        residents = _union([residents, _people_around(source, staff)], ["person_id"])
    dead = source.deaths(_ids(residents, "person_id"))
    residents = residents.filter(~pl.col("person_id").is_in(sorted(dead)))
    jobs = jobs.filter(~pl.col("person_id").is_in(sorted(dead)))
    out = {
        "resident": residents,
        "household": source.linked_where(
            "household", {"household_id": _ids(residents, "household_id") | homes}
        ),
        "employment": jobs,
    }
    enterprises = source.linked_where("enterprise", {"enterprise_id": firms})
    if tagged:
        enterprises = _tagged(source, enterprises, "enterprise", "enterprise_id", as_of)
    out["enterprise"] = enterprises
    return out


def _own(
    source: LinkedRows, residents: pl.DataFrame, as_of: date, *, tagged: bool
) -> dict[str, pl.DataFrame]:
    """:func:`neighbourhood`'s frames of ``residents`` alone (no employments or firms)."""
    if tagged:
        residents = _tagged(source, residents, "resident", "person_id", as_of)
    dead = source.deaths(_ids(residents, "person_id"))
    residents = residents.filter(~pl.col("person_id").is_in(sorted(dead)))
    homes = source.linked_where("household", {"household_id": _ids(residents, "household_id")})
    empty = {n: source.schema.entity(n).polars_schema().to_frame() for n in _FIRMS}
    return {"resident": residents, "household": homes, **empty}


_FIRMS = ("employment", "enterprise")


def _tagged(
    source: LinkedRows, frame: pl.DataFrame, entity: str, key: str, as_of: date
) -> pl.DataFrame:
    """``frame`` with each subject's tags on ``as_of`` (from its events, as the batch's)."""
    if not frame.height:
        return frame
    tagged = source.tagged(frame.get_column(key).to_list(), as_of, entity)
    tags = pl.DataFrame(
        {key: list(tagged), "__tags": [sorted(r.get("tags") or []) for _, r in tagged.values()]},
        schema={key: pl.String, "__tags": pl.List(pl.String)},
    )
    return (
        frame.join(tags, on=key, how="left", maintain_order="left")
        .with_columns(pl.coalesce("__tags", "tags").alias("tags"))
        .drop("__tags")
    )


def has_links(frames: Mapping[str, pl.DataFrame]) -> bool:
    """Whether a neighbourhood has links to follow (households or employments on record);
    without them a subject is matched alone, on the fields typed into its record."""
    return any(frames[name].height for name in ("household", "employment") if name in frames)


def pairs_frame(held: Mapping[tuple[str, str], Sequence[tuple[str, str, Any]]]) -> pl.DataFrame:
    """The pairs held for units, ``(subject_type, subject_id) -> [(policy, status, benefit)]``,
    as :data:`~matcher.units.PAIRS_SCHEMA` rows (unit and recipient as the run gives them)."""
    rows = [
        {"subject_id": sid, "subject_type": kind, "policy_id": pid, "status": status,
         "benefit": benefit, "unit": None, "recipient_id": None}
        for (kind, sid), offers in held.items()
        for pid, status, benefit in offers
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=PAIRS_SCHEMA) if rows else PAIRS_SCHEMA.to_frame()


def rematch_linked(
    held: pl.DataFrame, before: Mapping[str, pl.DataFrame], after: Mapping[str, pl.DataFrame],
    touched: Touched, policies: Sequence[Policy], schema: Schema, as_of: date,
    reached: Affected | None = None,
) -> tuple[Affected, pl.DataFrame]:  # fmt: skip
    """The units ``touched`` reaches (or ``reached``, when the caller knows fewer can change)
    and their changes (``matcher.runs.run_diff`` rows with unit and recipient), matched by
    the batch run's matcher on ``after``."""

    def match(frames: Mapping[str, pl.LazyFrame]) -> pl.DataFrame:
        return match_units_frame(frames, policies, schema, as_of=as_of)

    reached = reached or affected(before, after, touched)
    _, changes = rematch(held, before, after, touched, match, reached)
    return reached, changes
