"""Generate a synthetic population directory: residents in households, enterprises, the
employments that link them, and their service events.

The output columns, their order and their dtypes come from the profile schema; each field's
``missing`` share (scaled by ``unknown_scale``, or overridden per field) becomes unknown values.
The fields links determine (a resident's household size, income per capita and children under
3; a firm's employees and graduate hires) are computed from the links by ``profiles.links``
before any value is hidden, so the flat fields agree with the links.  Every resident, household
and firm then carries a calibrated weight: the design weight (the Beijing total over the sample
size) raked to Beijing's official totals (``targets.yaml``; members carry their household's
weight), and generation fails when a fitted total cannot be met.  The same seed gives the same
bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from core.errors import InputFileError, ValidationError
from profiles.links import with_links
from profiles.schema import Entity, Schema, load_schema
from simulations.population._calibrate import with_weights
from simulations.population._employments import generate_employments
from simulations.population._enterprises import generate_enterprises
from simulations.population._events import generate_events
from simulations.population._residents import draw_residents
from simulations.population._targets import load_targets

__all__ = ["FILES", "GenerationSpec", "generate_population", "with_unknowns"]

FILES: dict[str, str] = {
    "resident": "residents.parquet",
    "enterprise": "enterprises.parquet",
    "event": "events.parquet",
    "household": "households.parquet",
    "employment": "employments.parquet",
}

# Design weights before calibration: Beijing's totals over the sample's counts.
# census: 21,893,095 residents (2020); 北京市第五次全国经济普查公报(第二号): 1,179,000 legal
# units in industry and services (2023).
RESIDENTS_TOTAL = 21_893_095
ENTERPRISES_TOTAL = 1_179_000

Progress = Callable[[str], None]


@dataclass(frozen=True)
class GenerationSpec:
    residents: int
    enterprises: int
    seed: int
    as_of: date
    unknown_scale: float = 1.0
    unknown_overrides: Mapping[str, float] = field(default_factory=dict)
    targets: Path | None = None  # official totals to weight to (default: Beijing's targets.yaml)

    def check(self, schema: Schema) -> None:
        if self.residents < 0 or self.enterprises < 0:
            raise ValidationError(
                "--residents and --enterprises must be zero or more "
                f"(got {self.residents} and {self.enterprises})"
            )
        if not 0 <= self.unknown_scale <= 10:
            raise ValidationError(
                f"--unknown-scale must be between 0 and 10 (got {self.unknown_scale})"
            )
        entities = ("resident", "enterprise", "household", "employment")
        known = {f.name for e in entities for f in schema.entity(e).fields}
        for name, share in self.unknown_overrides.items():
            if name not in known:
                raise ValidationError(
                    f"--unknown {name}=...: no resident, enterprise, household or employment "
                    f"field is called {name!r}"
                )
            if not 0 <= share <= 1:
                raise ValidationError(f"--unknown {name}={share}: expected a share from 0 to 1")


def with_unknowns(
    frame: pl.DataFrame,
    entity: Entity,
    rng: np.random.Generator,
    *,
    scale: float = 1.0,
    overrides: Mapping[str, float] | None = None,
) -> pl.DataFrame:
    """``frame`` with each field unknown (null) in its ``missing`` share of records."""
    overrides = overrides or {}
    columns = []
    for f in entity.stored_fields:
        share = overrides.get(f.name, min(f.missing * scale, 1.0))
        if f.required or share <= 0 or f.name not in frame.columns:
            continue
        hide = pl.Series(rng.random(frame.height) < share)
        columns.append(pl.when(hide).then(None).otherwise(pl.col(f.name)).alias(f.name))
    return frame.with_columns(columns) if columns else frame


def _conform(frame: pl.DataFrame, entity: Entity) -> pl.DataFrame:
    """Schema order and dtypes; a stored field the generator did not model is unknown."""
    exprs = [
        (pl.col(f.name) if f.name in frame.columns else pl.lit(None)).cast(f.polars_dtype)
        for f in entity.stored_fields
    ]
    return frame.select(e.alias(f.name) for e, f in zip(exprs, entity.stored_fields, strict=True))


def generate_population(
    spec: GenerationSpec, out: Path, *, progress: Progress | None = None
) -> dict[str, Path]:
    """Write the Parquet files of ``spec`` (:data:`FILES`) into ``out``; returns their paths."""
    schema = load_schema()
    spec.check(schema)
    step = progress or (lambda _msg: None)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputFileError(f"cannot create output directory {out}: {exc.strerror}") from exc
    rng = np.random.default_rng(spec.seed)

    step("residents and households")
    drawn = draw_residents(rng, spec.residents, as_of=spec.as_of)
    step("enterprises")
    enterprises = generate_enterprises(rng, spec.enterprises, as_of=spec.as_of)
    step("employments")
    employments = generate_employments(rng, drawn.residents, enterprises, as_of=spec.as_of)
    person_weight = RESIDENTS_TOTAL / spec.residents if spec.residents else 0.0
    firm_weight = ENTERPRISES_TOTAL / spec.enterprises if spec.enterprises else 0.0
    linked = with_links(
        {
            "resident": drawn.residents.with_columns(pl.lit(person_weight).alias("weight")).lazy(),
            "household": drawn.households.with_columns(
                pl.lit(person_weight).alias("weight")  # members carry their household's weight
            ).lazy(),
            "enterprise": enterprises.with_columns(pl.lit(firm_weight).alias("weight"))
            .with_row_index("__order")
            .lazy(),
            "employment": employments.lazy(),
        },
        as_of=spec.as_of,
    )
    # Joins do not keep row order; the generator's order is part of "same seed, same bytes".
    residents = linked["resident"].collect().sort("person_id")
    households = drawn.households.with_columns(pl.lit(person_weight).alias("weight"))
    enterprises = linked["enterprise"].collect().sort("__order").drop("__order")
    step("weights")
    weighted, _fit = with_weights(
        {"resident": residents, "household": households, "enterprise": enterprises},
        as_of=spec.as_of,
        targets=load_targets(spec.targets),
        schema=schema,
    )
    residents, households = weighted["resident"], weighted["household"]
    enterprises = weighted["enterprise"]
    step("service events")
    events = generate_events(rng, residents, enterprises, as_of=spec.as_of)

    step("unknown values")
    frames = {
        "resident": residents,
        "enterprise": enterprises,
        "event": events,
        "household": households,
        "employment": employments,
    }
    paths: dict[str, Path] = {}
    for name, complete in frames.items():
        entity = schema.entity(name)
        frame = with_unknowns(
            complete, entity, rng, scale=spec.unknown_scale, overrides=spec.unknown_overrides
        )
        step(f"writing {FILES[name]}")
        path = out / FILES[name]
        tmp = path.with_suffix(".parquet.tmp")
        try:
            _conform(frame, entity).write_parquet(tmp, statistics=True)
            tmp.replace(path)  # never leave a half-written file under the real name
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise InputFileError(f"cannot write {path}: {exc.strerror}") from exc
        paths[name] = path
    return paths
