"""The dry-run of a draft policy: its reach on the current population, shown k-anonymously.

A dry-run matches the draft beside the published catalog (:func:`simulations.reach.simulate_reach`)
and reads off what an officer needs before submitting: eligible and maybe, cost per period and
per year, the same by group, who gains and who loses against the published version, and which
published policies share its eligible subjects.  Every figure is shown or withheld by
:mod:`simulations.disclosure` (counts under 10 as ``"<10"``, the cost of so few eligible as
``"—"``: it would give the count away).

The draft's validity dates are ignored: the preview answers "if this rule applied on the as-of
date", so a draft starting next year still shows its reach.  The as-of date is the latest match
run's (:func:`preview_as_of`), so the preview and the published reach describe the same day.
Caching and sharing of computations are :mod:`simulations.preview_cache`'s.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Final

import polars as pl

from matcher.runs import RunStore
from rules.loader import Catalog
from rules.policy import Policy
from simulations.disclosure import cost, money, suppress

__all__ = ["DIMENSIONS", "Published", "compute_dry_run", "document_hash", "preview_as_of"]

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


def compute_dry_run(
    draft: Policy, published: Published, population: Path, *, as_of: date
) -> dict[str, Any]:
    """The dry-run of ``draft`` (everything but ``elapsed_ms``): see the module docstring."""
    from profiles.schema import load_schema
    from simulations.reach import simulate_reach

    schema = load_schema()
    preview = _preview(draft, as_of)
    old = published.catalog.by_id.get(draft.id)
    others = tuple(p for p in published.catalog.policies if p.id != draft.id)
    reform = Catalog((*others, preview), {}, {})
    # The same rule as published: simulate it as an addition (a change it would skip), and
    # nobody gains or loses against the published version.
    same = old is not None and old.content_hash == preview.content_hash
    baseline = Catalog(others, {}, {}) if same else published.catalog
    reach = simulate_reach(population, baseline, reform, schema, as_of=as_of)
    row = reach.policies.filter(pl.col("policy_id") == draft.id)
    totals: dict[str, Any] = row.row(0, named=True) if row.height else {}
    entity = draft.audience
    eligible = int(totals.get("eligible_after", 0))
    versus = None
    if old is not None:
        versus = {
            "published_version": published.versions[draft.id],
            "newly_eligible": 0 if same else suppress(int(totals.get("newly_eligible", 0))),
            "no_longer_eligible": 0 if same else suppress(int(totals.get("no_longer_eligible", 0))),
        }
    return {
        "policy_id": draft.id,
        "entity": entity,
        "as_of": as_of.isoformat(),
        "population": _population_size(population, entity),
        "eligible": suppress(eligible),
        "maybe": suppress(int(totals.get("maybe_after", 0))),
        "cost_per_period": cost(totals.get("cost_period_after"), eligible=eligible, text=money),
        "cost_per_year": cost(totals.get("cost_year_after"), eligible=eligible, text=money),
        "period": draft.benefit_period or "",
        "by_group": _by_group(reach.groups, draft.id, DIMENSIONS[entity]),
        "versus_published": versus,
        "overlaps": _overlaps(reach.overlap, draft.id),
    }


def _population_size(population: Path, entity: str) -> int:
    from matcher.population import POPULATION_FILES

    path = population / POPULATION_FILES[entity]
    if not path.is_file():
        return 0
    return int(pl.scan_parquet(path).select(pl.len()).collect().item())


def _by_group(
    groups: pl.DataFrame, policy_id: str, dimensions: tuple[str, ...]
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {d: [] for d in dimensions}
    if not groups.height:
        return out
    rows = groups.filter(
        (pl.col("policy_id") == policy_id) & pl.col("dimension").is_in(list(dimensions))
    ).sort("dimension", "group")
    for r in rows.iter_rows(named=True):
        if not (r["eligible_after"] or r["maybe_after"]):
            continue  # a group the draft does not reach at all
        eligible = int(r["eligible_after"])
        out[r["dimension"]].append(
            {
                "group": str(r["group"]),
                "eligible": suppress(eligible),
                "maybe": suppress(int(r["maybe_after"])),
                "cost_per_year": cost(r["cost_year_after"], eligible=eligible, text=money),
            }
        )
    return out


def _overlaps(overlap: pl.DataFrame, policy_id: str) -> list[dict[str, Any]]:
    rows = overlap.filter(pl.col("policy_id") == policy_id).sort(
        ["shared", "other_policy"], descending=[True, False]
    )
    return [
        {"policy_id": str(other), "both": suppress(int(shared))}
        for other, shared in rows.select("other_policy", "shared").iter_rows()
    ]
