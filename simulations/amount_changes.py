"""Who gains and who loses how much when a published policy's amount changes (issue 17).

"Newly / no longer eligible" says nothing when only a tier changes (90-year-olds from 500 to
600 a month): everyone stays eligible.  This module compares each subject eligible under both
the published version and the draft, and counts them by the change of their annual benefit in
fixed bands (the bands do not depend on the data), and gives the annual cost before and after.

Released like the rest of the dry-run (:mod:`simulations.preview`): every band's count gets the
count noise, each subject is in exactly one band (a partition, so one subject changes one count
by one), counts under 10 are shown as ``"<10"``, and the costs get the sum noise of the clipped
benefits (``bounds``) and are withheld when the noisy number eligible is small.

>>> band_of(-1500.0), band_of(-50.0), band_of(0.0), band_of(1200.0), band_of(5000.0)
('≤ -1200', '-1200 … -1', 'no change', '1 … 1200', '> 1200')
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import polars as pl

from rules.parameters import Library, active, using
from rules.policy import Policy
from simulations.disclosure import cost, money, noised, suppress
from simulations.privacy import PrivacyParameters

__all__ = ["BANDS", "amount_changes", "band_of"]

_PER_YEAR: Final = {"month": 12, "year": 1, "once": 1}
# Annual change in CNY: (label, low exclusive, high inclusive).
BANDS: Final = (
    ("≤ -1200", float("-inf"), -1200.0),
    ("-1200 … -1", -1200.0, -0.005),
    ("no change", -0.005, 0.005),
    ("1 … 1200", 0.005, 1200.0),
    ("> 1200", 1200.0, float("inf")),
)


def band_of(change: float) -> str:
    """The band of an annual change (CNY)."""
    return next(label for label, low, high in BANDS if low < change <= high)


def amount_changes(
    population: Path,
    old: Policy,
    new: Policy,
    bounds: tuple[Decimal, Decimal],
    *,
    as_of: date,
    params: PrivacyParameters,
    libraries: tuple[Library, Library] | None = None,
) -> dict[str, Any]:
    """The released distribution of annual amount changes among subjects eligible under both
    ``old`` (the published version) and ``new`` (the draft), and the annual cost of each for
    everyone eligible.  ``old`` and ``new`` are as clipped for the dry-run; ``bounds`` their
    per-period bounds (CNY); ``libraries`` the parameters each is read with (default: the
    library in force for both)."""
    libraries = libraries or (active(), active())
    from matcher.batch import match_frame
    from matcher.population import scan_population
    from profiles.schema import load_schema

    schema = load_schema()
    frames = scan_population(population, schema)
    sides = []
    # Each side under its own parameter library (a parameter change is a change of amounts).
    for policy, library in ((old, libraries[0]), (new, libraries[1])):
        with using(library):
            # Relations left out: an exclusion between other policies is not this change's.
            pairs = match_frame(frames, [replace(policy, relations=())], schema, as_of=as_of)
        per_year = _PER_YEAR.get(policy.benefit_period or "", 0)
        sides.append(
            pairs.filter(pl.col("status") == "eligible").select(
                "subject_id",
                (pl.col("benefit").cast(pl.Float64).fill_null(0.0) * per_year).alias("annual"),
            )
        )
    before, after = sides
    per_old = _PER_YEAR.get(old.benefit_period or "", 0)
    per_new = _PER_YEAR.get(new.benefit_period or "", 0)
    both = before.join(after, on="subject_id", suffix="_after")
    changes = (both["annual_after"] - both["annual"]).to_list()
    counts = {label: 0 for label, _, _ in BANDS}
    for change in changes:
        counts[band_of(change)] += 1
    noisy = noised(list(counts.values()), params.count_scale)
    eligible_before, eligible_after = noised([before.height, after.height], params.count_scale)
    fen = noised(
        [round(float(before["annual"].sum() or 0) * 100),
         round(float(after["annual"].sum() or 0) * 100)],
        params.sum_scale(max(bounds[0] * max(per_old, 1), bounds[1] * max(per_new, 1)) * 100),
    )  # fmt: skip
    return {
        "amount_changes": [
            {"change_per_year": label, "subjects": suppress(n)}
            for (label, _, _), n in zip(BANDS, noisy, strict=True)
        ],
        "cost_per_year_before": cost(Decimal(fen[0]) / 100, eligible=eligible_before, text=money),
        "cost_per_year_after": cost(Decimal(fen[1]) / 100, eligible=eligible_after, text=money),
    }
