"""Weights that make the synthetic population add up to Beijing's official totals.

:func:`fit_weights` builds one column per fitted target (``targets.yaml``) and rakes within
bounds (:mod:`._raking`).  Residents are weighted through their households where the
population has them (integrated household weighting: a household's column counts its
qualifying members, and every member carries the household's weight), else one by one;
enterprises are weighted on their own.  :func:`check` compares every target — fitted,
held out and unverified — with the weighted and the unweighted figure, on the frames given:
the generator's complete frames, or a population directory's files, where a record whose
condition is unknown is left out and the known ones stand for it (the generator hides values
completely at random).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from core.errors import InputFileError, ValidationError
from profiles.derive import with_derived
from profiles.schema import Schema, load_schema
from rules import compile_rule, parse_rule
from simulations.population._raking import RakeResult, design_effect, rake
from simulations.population._targets import Target

__all__ = [
    "MIN_UNITS",
    "CalibrationError",
    "CalibrationReport",
    "CalibrationRow",
    "Weights",
    "check",
    "fit_weights",
    "report_for",
    "with_weights",
]

# A fitted target counted by fewer sample units than this is reported but not fitted: a cell
# of a handful of records would take weights at the bounds and still miss.
MIN_UNITS = 30
BOUNDS = (0.25, 5.0)  # g-weights; their ratio 20 bounds the weights' spread (issue 16)


class CalibrationError(ValidationError):
    """The weights cannot meet a fitted target within its tolerance."""


@dataclass(frozen=True)
class Weights:
    """One weight per row of each weighted frame, in the frame's order."""

    by_entity: Mapping[str, np.ndarray]
    fits: Mapping[str, RakeResult]  # "person" (residents or households) and "enterprise"
    skipped: Mapping[str, str]  # target id -> why it was not fitted


@dataclass(frozen=True)
class CalibrationRow:
    target: Target
    sample: int  # records that satisfy the condition (known ones)
    unweighted: float  # the sample count times the uniform scale (target total / sample size)
    weighted: float | None  # None: the population carries no weights
    note: str = ""

    @property
    def gap(self) -> float | None:
        if self.weighted is None or not self.target.value:
            return None
        return self.weighted / self.target.value - 1

    @property
    def unweighted_gap(self) -> float | None:
        return self.unweighted / self.target.value - 1 if self.target.value else None

    def within(self, loosen: float = 1.0) -> bool | None:
        """Whether the weighted figure is within the tolerance (times ``loosen``)."""
        gap = self.gap
        return None if gap is None else abs(gap) <= self.target.tolerance * loosen


@dataclass(frozen=True)
class CalibrationReport:
    rows: tuple[CalibrationRow, ...]
    units: Mapping[str, int]  # sample records per entity
    design_effects: Mapping[str, float]
    spreads: Mapping[str, float]  # max weight / min weight

    def failures(self, loosen: float = 1.0) -> list[CalibrationRow]:
        """Verified targets (fitted or held out) outside their tolerance."""
        return [r for r in self.rows if r.target.verified and r.within(loosen) is False]


def _indicator(frame: pl.DataFrame, target: Target, schema: Schema, as_of: date) -> pl.Series:
    """True, false or null (unknown) per row: does the row count toward ``target``?"""
    if target.where is None:
        return pl.Series(np.ones(frame.height, dtype=bool))
    entity = schema.entity(target.entity)
    expr = compile_rule(parse_rule(target.where, entity), as_of=as_of)
    try:
        return frame.select(expr.alias("hit")).to_series()
    except pl.exceptions.ColumnNotFoundError:
        return pl.Series([None] * frame.height, dtype=pl.Boolean)


def _prepared(
    frames: Mapping[str, pl.DataFrame], schema: Schema, as_of: date
) -> dict[str, pl.DataFrame]:
    out = {}
    for name in ("resident", "household", "enterprise"):
        if name in frames and frames[name].height:
            out[name] = with_derived(
                frames[name].lazy(), schema.entity(name), as_of=as_of
            ).collect()
    return out


def _total(targets: Iterable[Target], entity: str) -> float | None:
    for t in targets:
        if t.entity == entity and t.where is None and t.verified:
            return t.value
    return None


def _scale(targets: tuple[Target, ...], entity: str, n: int) -> float:
    total = _total(targets, entity)
    return total / n if total and n else 1.0


def _person_units(prepared: Mapping[str, pl.DataFrame]) -> tuple[str, pl.DataFrame | None]:
    """``("household", members' household index per resident)`` or ``("resident", None)``."""
    residents = prepared.get("resident")
    households = prepared.get("household")
    if residents is None or households is None or "household_id" not in residents.columns:
        return "resident", None
    index = households.select(pl.col("household_id"), pl.int_range(pl.len()).alias("_unit"))
    members = residents.select("household_id").join(index, on="household_id", how="left")
    if members["_unit"].null_count():
        return "resident", None  # members of unknown households: weight persons one by one
    return "household", members


def fit_weights(
    frames: Mapping[str, pl.DataFrame],
    targets: tuple[Target, ...],
    *,
    as_of: date,
    schema: Schema | None = None,
    min_units: int = MIN_UNITS,
) -> Weights:
    """Raked weights for the residents (and households) and the enterprises of ``frames``.

    Raises :class:`CalibrationError` naming every fitted target the bounded weights miss.
    """
    schema = schema or load_schema()
    prepared = _prepared(frames, schema, as_of)
    weights: dict[str, np.ndarray] = {}
    fits: dict[str, RakeResult] = {}
    skipped: dict[str, str] = {}
    person_unit, members = _person_units(prepared)
    groups = {"person": ("resident", "household"), "enterprise": ("enterprise",)}
    for group, entities in groups.items():
        base_entity = entities[0]
        if base_entity not in prepared:
            continue
        unit = person_unit if group == "person" else "enterprise"
        n_units = prepared[unit].height
        columns, totals, chosen = [], [], []
        for t in targets:
            if not t.fitted or t.entity not in entities:
                continue
            if t.entity == "household" and unit != "household":
                skipped[t.id] = "the population has no households"
                continue
            hits = _indicator(prepared[t.entity], t, schema, as_of).fill_null(False)
            column = hits.cast(pl.Float64).to_numpy()
            if t.entity == "resident" and unit == "household" and members is not None:
                column = np.bincount(members["_unit"].to_numpy(), weights=column, minlength=n_units)
            count = int(hits.sum())
            if count < min_units and t.where is not None:
                skipped[t.id] = f"only {count} sample record(s) qualify (fewer than {min_units})"
                continue
            columns.append(column)
            totals.append(t.value)
            chosen.append(t)
        scale = _scale(targets, base_entity, prepared[base_entity].height)
        x = np.column_stack(columns) if columns else np.zeros((n_units, 0))
        fit = rake(
            x,
            np.array(totals, dtype=np.float64),
            np.full(n_units, scale),
            low=BOUNDS[0],
            high=BOUNDS[1],
        )
        misses = [
            f"{t.id} (target {t.value:,.0f}, weighted {w:,.0f}, tolerance {t.tolerance:.0%})"
            for t, w in zip(chosen, x.T @ fit.weights, strict=True)
            if abs(w / t.value - 1) > t.tolerance
        ]
        if misses:
            raise CalibrationError(
                f"the {group} weights cannot meet {len(misses)} fitted target(s) within their "
                f"tolerance while keeping each weight within {BOUNDS[0]}–{BOUNDS[1]} times the "
                "uniform one: " + "; ".join(misses) + ". The sample is too far from the "
                "targets: bring the generator's shares closer (simulations/population/"
                "_marginals.py) or generate a larger population",
                problems=misses,
            )
        fits[group] = fit
        weights[unit] = fit.weights
        if unit == "household" and members is not None:
            weights["resident"] = fit.weights[members["_unit"].to_numpy()]
    return Weights(by_entity=weights, fits=fits, skipped=skipped)


def check(
    frames: Mapping[str, pl.DataFrame],
    targets: tuple[Target, ...],
    *,
    as_of: date,
    schema: Schema | None = None,
    skipped: Mapping[str, str] | None = None,
) -> CalibrationReport:
    """Every target beside its weighted and unweighted figure in ``frames``.

    A frame's ``weight`` column is used where present (and fully known); the unweighted figure
    is the sample count scaled by the entity's target total over its sample size (households:
    the residents' scale, as they are drawn with their members).
    """
    schema = schema or load_schema()
    prepared = _prepared(frames, schema, as_of)
    skipped = skipped or {}
    rows = []
    for t in targets:
        frame = prepared.get(t.entity)
        if frame is None:
            rows.append(CalibrationRow(t, 0, 0.0, None, f"no {t.entity} records"))
            continue
        hits = _indicator(frame, t, schema, as_of)
        known = hits.is_not_null().to_numpy()
        hit = hits.fill_null(False).to_numpy()
        n, n_known = frame.height, int(known.sum())
        note = skipped.get(t.id, "")
        if n_known == 0:
            rows.append(CalibrationRow(t, 0, 0.0, None, "unknown for every record"))
            continue
        if t.entity == "household" and "resident" in prepared:
            # Households are drawn with their members: each stands for as many Beijing
            # households as a sampled resident stands for residents.
            scale = _scale(targets, "resident", prepared["resident"].height)
        else:
            scale = _scale(targets, t.entity, n)
        unweighted = float(hit.sum()) * n / n_known * scale
        weighted = None
        if "weight" in frame.columns and frame["weight"].null_count() == 0:
            w = frame["weight"].cast(pl.Float64).to_numpy()
            weighted = float(w[hit].sum()) * float(w.sum()) / float(w[known].sum())
        if n_known < n and not note:
            note = f"{n - n_known:,} unknown, left out"
        rows.append(CalibrationRow(t, int(hit.sum()), unweighted, weighted, note))
    units = {name: frame.height for name, frame in prepared.items()}
    effects, spreads = {}, {}
    for name, frame in prepared.items():
        if "weight" in frame.columns and frame["weight"].null_count() == 0 and frame.height:
            w = frame["weight"].cast(pl.Float64).to_numpy()
            effects[name] = design_effect(w)
            spreads[name] = float(w.max() / w.min()) if w.min() > 0 else float("inf")
    return CalibrationReport(tuple(rows), units, effects, spreads)


def with_weights(
    frames: Mapping[str, pl.DataFrame],
    *,
    as_of: date,
    targets: tuple[Target, ...],
    schema: Schema | None = None,
) -> tuple[dict[str, pl.DataFrame], Weights]:
    """``frames`` with each weighted entity's ``weight`` column replaced by calibrated weights."""
    fitted = fit_weights(frames, targets, as_of=as_of, schema=schema)
    out = dict(frames)
    for name, values in fitted.by_entity.items():
        out[name] = out[name].with_columns(pl.Series("weight", values, dtype=pl.Float64))
    return out, fitted


def report_for(
    directory: Path, *, as_of: date, targets: tuple[Target, ...], schema: Schema | None = None
) -> CalibrationReport:
    """:func:`check` on the residents, households and enterprises written in ``directory``."""
    if not directory.is_dir():
        raise InputFileError(
            f"population directory {directory} does not exist; make one with "
            "`zhida population generate --out DIR`"
        )
    frames = {}
    for name in ("resident", "household", "enterprise"):
        path = directory / f"{name}s.parquet"
        if path.is_file():
            try:
                frames[name] = pl.read_parquet(path)
            except (OSError, pl.exceptions.PolarsError) as exc:
                raise InputFileError(f"cannot read {path}: {exc}") from None
    if not frames:
        raise InputFileError(
            f"{directory} holds no residents.parquet, households.parquet or enterprises.parquet"
        )
    return check(frames, targets, as_of=as_of, schema=schema)
