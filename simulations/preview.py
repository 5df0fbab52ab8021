"""The dry-run of a draft policy: its reach on the current population, differentially private.

A dry-run matches the draft beside the published catalog (:func:`simulations.reach.simulate_reach`)
and reads off what an officer needs before submitting: eligible and maybe, cost per period and
per year, the same by group, who gains and who loses against the published version, and which
published policies share its eligible subjects.

It is an aggregate-only answer, so (:mod:`simulations.privacy`): a rule reading an identifier
or a quasi-identifier is refused before anything runs; each benefit is clipped to its policy's
own maximum per subject; and every count and cost gets noise before
:mod:`simulations.disclosure` withholds the small ones (noisy counts under 10 as ``"<10"``, the
cost of so few eligible as ``"—"``).  The overlap list names a published policy only when the
noisy number of subjects both reach is clearly above its noise (:func:`overlap_threshold`).
What a dry-run costs in privacy budget is :attr:`PrivacyParameters.dry_run_epsilon`.

The draft's validity dates are ignored: the preview answers "if this rule applied on the as-of
date", so a draft starting next year still shows its reach.  The as-of date is the latest match
run's (:func:`preview_as_of`), so the preview and the published reach describe the same day.
Caching and sharing of computations are :mod:`simulations.preview_cache`'s.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import polars as pl

from matcher.runs import RunStore
from rules.loader import Catalog
from rules.parameters import active, using
from rules.policy import Policy
from simulations.amount_changes import amount_changes
from simulations.disclosure import cost, money, noised, suppress
from simulations.privacy import DEFAULT, OVERLAP_SHARE, PrivacyParameters, bounded
from simulations.scaling import scaled_figures

__all__ = [
    "DIMENSIONS",
    "Published",
    "compute_dry_run",
    "document_hash",
    "overlap_threshold",
    "preview_as_of",
]

_PER_YEAR: Final = {"month": 12, "year": 1, "once": 1}

DIMENSIONS: Final = {"resident": ("district", "age_band"), "enterprise": ("district", "size_class")}


@dataclass(frozen=True)
class Published:
    """The published catalog as of the dry-run's date, and the published version numbers."""

    catalog: Catalog
    versions: dict[str, int]  # policy id -> the published version in force


def preview_as_of(runs: RunStore) -> date:
    """The date previews and simulations are computed on: the latest match run's as-of date,
    today when there is no run yet."""
    run = runs.latest()
    return run.as_of if run is not None else date.today()


def document_hash(document: str) -> str:
    """The key of a draft's text in the cache.

    >>> document_hash("id: a")[:12]
    'fef138e83d87'
    """
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def _preview(draft: Policy, as_of: date) -> Policy:
    """The draft as if in force on ``as_of`` (validity dates do not hide its reach)."""
    valid_until = draft.valid_until
    if valid_until is not None and valid_until < as_of:
        valid_until = None
    return replace(draft, valid_from=min(draft.valid_from, as_of), valid_until=valid_until)


def overlap_threshold(others: int, params: PrivacyParameters = DEFAULT) -> int:
    """How many subjects a noisy overlap must show for the list to name the other policy: the
    overlap vector's noise scale (``others`` policies, one subject in all of them) times
    ln(20·others), so a policy sharing nobody is named by chance once in 20 dry-runs.

    >>> overlap_threshold(34)
    1109
    """
    if others <= 0:
        return 0
    scale = others / (OVERLAP_SHARE * params.epsilon)
    return round(scale * math.log(20 * others))


def compute_dry_run(
    draft: Policy,
    published: Published,
    population: Path,
    *,
    as_of: date,
    params: PrivacyParameters = DEFAULT,
    parameters: Sequence[str] = (),
) -> dict[str, Any]:
    """The dry-run of ``draft`` (everything but ``elapsed_ms``): see the module docstring.

    ``parameters`` (``dibao_standard=1500``, ...) are parameter changes from ``as_of`` the draft
    is simulated with (:meth:`rules.parameters.Library.with_overrides`): the published
    catalog on the library in force is the baseline, the draft with the changed library the
    reform, so a draft identical to the published policy shows what the change alone does.

    Raises :class:`simulations.privacy.IdentifyingRuleError` for a rule reading an identifier.
    """
    from profiles.schema import load_schema
    from simulations.privacy import refuse_identifying
    from simulations.reach import simulate_reach

    schema = load_schema()
    preview = _preview(draft, as_of)
    refuse_identifying([preview], schema, answer="a dry-run")
    old = published.catalog.by_id.get(draft.id)
    others = tuple(p for p in published.catalog.policies if p.id != draft.id)
    libraries = (active(), active().with_overrides(parameters, on=as_of)) if parameters else None
    with using(libraries[1] if libraries else active()):
        reform, bounds = bounded(Catalog((*others, preview), {}, {}), schema, params)
    # The same rule as published: simulate it as an addition (a change it would skip), and
    # nobody gains or loses against the published version (unless a parameter changes).
    same = old is not None and old.content_hash == preview.content_hash and not parameters
    baseline, old_bounds = bounded(
        Catalog(others, {}, {}) if same else published.catalog, schema, params
    )
    reach = simulate_reach(population, baseline, reform, schema, as_of=as_of, parameters=libraries)
    row = reach.policies.filter(pl.col("policy_id") == draft.id)
    totals: dict[str, Any] = row.row(0, named=True) if row.height else {}
    entity = draft.audience
    count = params.count_scale
    eligible, maybe, newly, lost = noised(
        [int(totals.get(k) or 0) for k in
         ("eligible_after", "maybe_after", "newly_eligible", "no_longer_eligible")],
        count,
    )  # fmt: skip
    fen = _noisy_fen([totals.get("cost_period_after")], bounds[draft.id], params)[0]
    per_year = _PER_YEAR.get(draft.benefit_period or "", 0)
    domain = _group_domain(population, entity, DIMENSIONS[entity], as_of)
    versus = None
    if old is not None:
        versus = {
            "published_version": published.versions[draft.id],
            "newly_eligible": 0 if same else suppress(newly),
            "no_longer_eligible": 0 if same else suppress(lost),
        }
        if not same:  # who gains and loses how much, and the cost before -> after
            versus |= amount_changes(
                population, baseline.by_id[draft.id], reform.by_id[draft.id],
                (old_bounds[draft.id], bounds[draft.id]), as_of=as_of, params=params,
                libraries=libraries,
            )  # fmt: skip
    return {
        "policy_id": draft.id,
        "entity": entity,
        "as_of": as_of.isoformat(),
        "population": _population_size(population, entity),
        "eligible": suppress(eligible),
        "maybe": suppress(maybe),
        "cost_per_period": cost(_yuan(fen), eligible=eligible, text=money),
        "cost_per_year": cost(_yuan(fen * per_year), eligible=eligible, text=money),
        "period": draft.benefit_period or "",
        "by_group": _by_group(
            reach.groups, domain, draft.id, DIMENSIONS[entity], bounds[draft.id], per_year, params
        ),
        "versus_published": versus,
        "overlaps": _overlaps(reach.overlap, draft.id, others, draft.audience, params),
        "parameters": list(parameters),
        # Beijing's numbers: the noisy figures times the audience's mean calibrated weight.
        "beijing": scaled_figures(
            eligible,
            float(_yuan(fen * per_year)),
            reach.mean_weights.get(entity),
            shown=suppress(eligible) == eligible,
        ),
    }


def _yuan(fen: int) -> Decimal:
    return Decimal(fen) / 100


def _noisy_fen(costs: list[Any], bound: Decimal, params: PrivacyParameters) -> list[int]:
    """Costs (CNY) as noisy integer fen: one subject adds at most ``bound`` yuan to each."""
    fen = [int(Decimal(str(c or 0)) * 100) for c in costs]
    return noised(fen, params.sum_scale(bound * 100))


def _population_size(population: Path, entity: str) -> int:
    from matcher.population import POPULATION_FILES

    path = population / POPULATION_FILES[entity]
    if not path.is_file():
        return 0
    return int(pl.scan_parquet(path).select(pl.len()).collect().item())


def _group_domain(
    population: Path, entity: str, dimensions: tuple[str, ...], as_of: date
) -> pl.DataFrame:
    """``dimension, group``: every group of ``dimensions`` the population has (not the rule);
    computed once per population files (name, size, time), entity, dimensions and date."""
    stamp = tuple(
        (p.name, s.st_size, s.st_mtime_ns)
        for p in sorted(population.glob("*.parquet"))
        for s in (p.stat(),)
    )
    return _domain_of(population, stamp, entity, dimensions, as_of)


@lru_cache(maxsize=16)
def _domain_of(
    population: Path,
    stamp: tuple[tuple[str, int, int], ...],
    entity: str,
    dimensions: tuple[str, ...],
    as_of: date,
) -> pl.DataFrame:
    del stamp  # part of the cache key only
    from matcher.population import scan_population
    from profiles.derive import with_derived
    from profiles.schema import load_schema
    from simulations.reach import group_columns, with_missing_fields

    schema = load_schema()
    frames = scan_population(population, schema)
    if entity not in frames:
        return pl.DataFrame(schema={"dimension": pl.String, "group": pl.String})
    e = schema.entity(entity)
    people = with_derived(with_missing_fields(frames[entity], e), e, as_of=as_of)
    columns = group_columns(entity)
    parts = [
        people.select(pl.lit(d).alias("dimension"), columns[d].cast(pl.String).alias("group"))
        .drop_nulls("group")
        .unique()
        for d in dimensions
    ]
    return pl.concat(pl.collect_all(parts))


def _by_group(
    groups: pl.DataFrame,
    domain: pl.DataFrame,
    policy_id: str,
    dimensions: tuple[str, ...],
    bound: Decimal,
    per_year: int,
    params: PrivacyParameters,
) -> dict[str, list[dict[str, Any]]]:
    """Per dimension, each group's noisy eligible, maybe and cost per year.  Every group of
    ``domain`` (the population's, whatever the draft reaches) gets noise, so whether a group is
    listed says nothing certain about the draft; a group whose noisy counts are both zero is
    left out."""
    out: dict[str, list[dict[str, Any]]] = {d: [] for d in dimensions}
    if not domain.height:
        return out
    mine = (
        groups.filter(pl.col("policy_id") == policy_id).drop("policy_id")
        if groups.height
        else pl.DataFrame(schema={"dimension": pl.String, "group": pl.String})
    )
    rows = (
        domain.join(mine, on=["dimension", "group"], how="left")
        .with_columns(
            pl.col(c).fill_null(0) if c in mine.columns else pl.lit(0).alias(c)
            for c in ("eligible_after", "maybe_after", "cost_period_after")
        )
        .sort("dimension", "group")
    )
    eligible = noised([int(v) for v in rows["eligible_after"]], params.count_scale)
    maybe = noised([int(v) for v in rows["maybe_after"]], params.count_scale)
    period = _noisy_fen(list(rows["cost_period_after"]), bound, params)
    for r, e, m, f in zip(rows.iter_rows(named=True), eligible, maybe, period, strict=True):
        if not (e or m):
            continue
        out[r["dimension"]].append(
            {
                "group": str(r["group"]),
                "eligible": suppress(e),
                "maybe": suppress(m),
                "cost_per_year": cost(_yuan(f * per_year), eligible=e, text=money),
            }
        )
    return out


def _overlaps(
    overlap: pl.DataFrame,
    policy_id: str,
    others: tuple[Policy, ...],
    audience: str,
    params: PrivacyParameters,
) -> list[dict[str, Any]]:
    """The published policies of the same audience that clearly share the draft's eligible:
    every one gets noise (the list of candidates does not depend on the data), and only those
    above :func:`overlap_threshold` are named, most shared first."""
    candidates = sorted(p.id for p in others if p.audience == audience)
    if not candidates:
        return []
    true = dict(
        overlap.filter(pl.col("policy_id") == policy_id)
        .select("other_policy", "shared")
        .iter_rows()
    )
    scale = len(candidates) / (OVERLAP_SHARE * params.epsilon)
    shared = noised([int(true.get(c, 0)) for c in candidates], scale)
    threshold = overlap_threshold(len(candidates), params)
    named = sorted(
        ((n, c) for c, n in zip(candidates, shared, strict=True) if n > threshold),
        key=lambda x: (-x[0], x[1]),
    )
    return [{"policy_id": c, "both": suppress(n)} for n, c in named]
