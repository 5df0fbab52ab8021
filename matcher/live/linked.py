"""Event-driven matching across links: who else one member's event changes, and their re-match.

A birth, a death, a job lost or a hire filed by a firm touches one record, but what it changes
reaches along the links: a household's size and income per capita (so every member's derived
fields and the household's own offers), a parent's ``children_under_3`` wherever the parent
lives, a child's guardian (who is told), a firm's ``employees`` and hires.  :func:`affected`
follows the links of the population before and after the event from what it touched to every
unit whose pairs may differ; :func:`rematch` matches those units again, on a population cut to
them and the context their aggregates read (whole households, a firm's every employment), with
the same matcher as the batch run, and lays the result over the pairs held so far.  Replaying
events one by one so equals a batch run on the final population (tests/matcher/
test_live_linked.py), while each event costs the units it reaches, not the population.

>>> before = {"resident": pl.DataFrame({"person_id": ["mum", "dad"],
...                                      "household_id": ["h1", "h1"]})}
>>> after = {"resident": pl.DataFrame({"person_id": ["mum", "dad", "baby"],
...                                     "household_id": ["h1", "h1", "h1"],
...                                     "mother_id": [None, None, "mum"]})}
>>> reached = affected(before, after, Touched(residents=frozenset({"baby"})))
>>> sorted(reached.residents), sorted(reached.households)
(['baby', 'dad', 'mum'], ['h1'])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import polars as pl

from matcher.runs import run_diff
from matcher.units import PAIRS_SCHEMA
from profiles.schema import load_schema

__all__ = ["Affected", "Frames", "Match", "Touched", "affected", "context", "rematch"]

# A small population in memory: "resident", "household", "enterprise", "employment" frames.
Frames = Mapping[str, pl.DataFrame]
# Matches frames into unit pairs (matcher.units.PAIRS_SCHEMA): the batch run's own matcher.
Match = Callable[[Mapping[str, pl.LazyFrame]], pl.DataFrame]
_PARENTS = load_schema().resident.guardian_fields  # who a child's offers are told to


@dataclass(frozen=True)
class Touched:
    """The records an event changed (added, edited or removed)."""

    residents: frozenset[str] = frozenset()
    households: frozenset[str] = frozenset()
    enterprises: frozenset[str] = frozenset()
    employments: frozenset[tuple[str, str]] = frozenset()  # (person_id, enterprise_id)


@dataclass(frozen=True)
class Affected:
    """Every unit whose pairs an event may change."""

    residents: frozenset[str]
    households: frozenset[str]
    enterprises: frozenset[str]

    def holds(self) -> pl.Expr:
        """Whether a pair is one of these units'."""
        kind, sid = pl.col("subject_type").cast(pl.String), pl.col("subject_id")
        return (
            ((kind == "resident") & sid.is_in(list(self.residents)))
            | ((kind == "household") & sid.is_in(list(self.households)))
            | ((kind == "enterprise") & sid.is_in(list(self.enterprises)))
        )


def _values(frames: Iterable[Frames], entity: str, column: str, by: str, ids: set[str]) -> set[str]:
    """``column`` of the ``entity`` rows whose ``by`` is one of ``ids``, in any of ``frames``
    (a frame without either column has none)."""
    out: set[str] = set()
    for population in frames:
        frame = population.get(entity)
        if frame is None or column not in frame.columns or by not in frame.columns:
            continue
        found = frame.filter(pl.col(by).is_in(list(ids))).get_column(column)
        out |= set(found.drop_nulls().to_list())
    return out


def _of(column: str, ids: set[str]) -> pl.Expr:
    return pl.col(column).is_in(list(ids))


def affected(before: Frames, after: Frames, touched: Touched) -> Affected:
    """The units an event that changed ``touched`` may change, by the links before and after.

    Persons: those touched (and by a touched employment), every member of their households,
    their parents and guardians (a parent's ``children_under_3``) and their children (who is
    told for them); then the households of all of those and all their members.  Firms: those
    touched, and every employer, past or present, of an affected person.
    """
    both = (before, after)
    people = set(touched.residents) | {p for p, _ in touched.employments}
    households = set(touched.households)
    households |= _values(both, "resident", "household_id", "person_id", people)
    reached = people | _values(both, "resident", "person_id", "household_id", households)
    for link in _PARENTS:
        reached |= _values(both, "resident", link, "person_id", people)
        reached |= _values(both, "resident", "person_id", link, people)
    households |= _values(both, "resident", "household_id", "person_id", reached)
    reached |= _values(both, "resident", "person_id", "household_id", households)
    firms = set(touched.enterprises) | {e for _, e in touched.employments}
    firms |= _values(both, "employment", "enterprise_id", "person_id", reached)
    return Affected(frozenset(reached), frozenset(households), frozenset(firms))


def context(population: Frames, reached: Affected) -> dict[str, pl.LazyFrame]:
    """``population`` cut to ``reached`` and what their aggregates and recipients read: each
    affected firm with all its employments and its employees, and whole households of every
    resident kept (with the parents and children of affected persons)."""
    residents = population.get("resident")
    employments = population.get("employment")
    out: dict[str, pl.LazyFrame] = {}
    if employments is not None:
        employments = employments.filter(_of("enterprise_id", set(reached.enterprises)))
        out["employment"] = employments.lazy()
    if (firms := population.get("enterprise")) is not None:
        out["enterprise"] = firms.filter(_of("enterprise_id", set(reached.enterprises))).lazy()
    if residents is None:
        return out
    people = set(reached.residents)
    if employments is not None:
        people |= set(employments.get_column("person_id").to_list())
    for link in _PARENTS:
        if link in residents.columns:
            people |= set(residents.filter(_of("person_id", people))[link].drop_nulls())
            people |= set(residents.filter(_of(link, people))["person_id"])
    households = set(reached.households)
    if "household_id" in residents.columns:
        households |= set(residents.filter(_of("person_id", people))["household_id"].drop_nulls())
        kept = _of("person_id", people) | _of("household_id", households)
    else:
        kept = _of("person_id", people)
    out["resident"] = residents.filter(kept).lazy()
    if (homes := population.get("household")) is not None:
        out["household"] = homes.filter(_of("household_id", households)).lazy()
    return out


def rematch(
    pairs: pl.DataFrame, before: Frames, after: Frames, touched: Touched, match: Match,
    reached: Affected | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:  # fmt: skip
    """The pairs after an event, and its changes (``matcher.runs.run_diff`` rows, each with
    its unit and recipient: what :func:`notifier.dispatch.plan_changes` plans).

    ``pairs`` are the population's pairs before the event (:data:`PAIRS_SCHEMA`); only the
    affected units (or ``reached``, when fewer can change) are matched again, on
    :func:`context` of the population after it.
    """
    reached = reached or affected(before, after, touched)
    fresh = match(context(after, reached)).cast(PAIRS_SCHEMA).filter(reached.holds())
    old = pairs.filter(reached.holds())
    kept = pairs.filter(~reached.holds())
    updated = pl.concat([kept, fresh]).sort("subject_type", "subject_id", "policy_id")
    changes = run_diff(old.lazy(), fresh.lazy()).collect()
    return updated, changes
