"""What of a run's fairness may be released to an analyst: by group, per subject, noisy.

``zhida report fairness`` (:mod:`matcher.fairness`, :mod:`matcher.exposure`) counts pairs
exactly, for whoever holds the data.  The analyst page shows the same two views of the
latest run — coverage and exposure in the top-k pushes — as a *release* (:mod:`simulations.
budget`): noised once per run, kept, the same for everyone, charged the first time a user
asks for it.

One subject can have many offers, so the figures are per subject, each subject's part bounded
to one: for each subject of the run, its **confirmed share** (of its eligible-or-maybe offers,
the share eligible for certain) and, when it has ranked offers (服务找人, 直达快享), its **top-k
share** (of those, the share in the run's top ``top_share`` by the ranking's own order).  By
each fairness dimension fairlearn's ``MetricFrame`` gives every group's subjects and mean
share; the release is the group's subject count and the sum of its shares (in thousandths),
each with discrete Laplace noise (:func:`simulations.disclosure.noised`): a subject moves one
count by 1 and one sum by at most 1,000 per dimension, so the noise is of one count's scale
(and 1,000 times it for the sums), and the release costs 4 × dimensions × ε
(:func:`fairness_epsilon`).  Rates, ratios to the best group, exposure (a group's top-k share
over everyone's) and the four-fifths flags are computed from the noisy figures
(post-processing); a group whose noisy count is under 10 is withheld (``"<10"``).

>>> fairness_epsilon()
1.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from fairlearn.metrics import MetricFrame, count  # type: ignore[import-untyped]

from matcher.exposure import DEFAULT_TOP_SHARE, top_k
from matcher.fairness import FOUR_FIFTHS, GROUPS, dimensions, people_groups
from profiles.schema import Schema
from rules.policy import Policy
from simulations.disclosure import K_ANONYMITY, noised
from simulations.privacy import DEFAULT, PrivacyParameters

__all__ = ["fairness_epsilon", "private_fairness", "ranked_offers", "subject_shares"]

_MILLI = 1000  # shares are released as sums of thousandths (integers for the noise)
_FIGURES = ("coverage", "exposure")


def fairness_epsilon(params: PrivacyParameters = DEFAULT) -> float:
    """The release's cost: a count and a sum per dimension for each view.

    >>> fairness_epsilon(PrivacyParameters(epsilon=0.1))
    2.0
    """
    most = max(len(dimensions(e)) for e in GROUPS)
    return round(2 * len(_FIGURES) * most * params.epsilon, 6)


def subject_shares(
    pairs: pl.DataFrame, ranked: pl.DataFrame | None, *, top_share: float = DEFAULT_TOP_SHARE
) -> pl.DataFrame:
    """Per subject: ``subject_type``, ``confirmed`` (share of its offers eligible for certain)
    and ``top`` (share of its ranked offers in the top-k; null without ranked offers).

    >>> pairs = pl.DataFrame({"subject_id": ["a", "a", "b"], "subject_type": ["resident"] * 3,
    ...     "policy_id": ["p", "q", "p"], "status": ["eligible", "maybe", "maybe"]})
    >>> subject_shares(pairs, None).sort("subject_id").rows()
    [('a', 'resident', 0.5, None), ('b', 'resident', 0.0, None)]
    """
    shares = pairs.group_by("subject_id").agg(
        pl.col("subject_type").cast(pl.String).first(),
        (pl.col("status").cast(pl.String) == "eligible").mean().alias("confirmed"),
    )
    if ranked is None or ranked.height == 0:
        return shares.with_columns(pl.lit(None, pl.Float64).alias("top"))
    tops = [
        top_k(ranked.filter(pl.col("subject_type").cast(pl.String) == e), top_share=top_share)
        for e in GROUPS
    ]
    present = [t.select("subject_id", "top") for t in tops if t.height]
    if not present:  # nothing ranked (only grants): no exposure to measure
        return shares.with_columns(pl.lit(None, pl.Float64).alias("top"))
    top = pl.concat(present).group_by("subject_id").agg(pl.col("top").cast(pl.Float64).mean())
    return shares.join(top, on="subject_id", how="left")


def _by_group(units: pl.DataFrame, dimension: str, share: str) -> tuple[list[str], Any, Any]:
    """Groups, subjects and sums of ``share`` (thousandths), exact, through MetricFrame."""
    known = units.select(dimension, share).drop_nulls()
    if known.height == 0:
        return [], np.zeros(0), np.zeros(0)
    y = known[share].to_numpy()
    mf = MetricFrame(
        metrics={"mean": lambda t, p: float(np.mean(p)), "n": count},
        y_true=y,
        y_pred=y,
        sensitive_features=known[dimension].cast(pl.String).to_numpy(),
    )
    by = mf.by_group
    n = by["n"].to_numpy().astype(np.int64)
    return [str(g) for g in by.index], n, np.rint(by["mean"].to_numpy() * n * _MILLI)


def _release(
    groups: list[str], n: Any, sums: Any, params: PrivacyParameters
) -> list[dict[str, Any]]:
    noisy_n = noised([int(v) for v in n], params.count_scale)
    noisy_sum = noised([int(v) for v in sums], params.count_scale * _MILLI)
    rows = []
    for group, count_, total in zip(groups, noisy_n, noisy_sum, strict=True):
        shown = count_ >= K_ANONYMITY
        rate = min(1.0, total / _MILLI / count_) if shown and count_ > 0 else None
        rows.append({"group": group, "subjects": count_ if shown else f"<{K_ANONYMITY}",
                     "rate": rate})  # fmt: skip
    return rows


def private_fairness(
    pairs: pl.DataFrame,
    ranked: pl.DataFrame | None,
    subjects: Mapping[str, pl.LazyFrame],
    schema: Schema,
    *,
    as_of: date,
    params: PrivacyParameters = DEFAULT,
    top_share: float = DEFAULT_TOP_SHARE,
) -> dict[str, Any]:
    """The release: per view, entity, dimension and group — subjects (noisy), rate, ratio to
    the best group (coverage) or exposure (top-k), and the four-fifths flag."""
    shares = subject_shares(pairs, ranked, top_share=top_share)
    out: dict[str, Any] = {"top_share": top_share, "coverage": [], "exposure": []}
    for entity in sorted(e for e in subjects if e in GROUPS):
        mine = shares.filter(pl.col("subject_type") == entity)
        units = mine.join(
            people_groups(subjects[entity], schema.entity(entity), as_of), on="subject_id",
            how="left",
        )  # fmt: skip
        for view, share in (("coverage", "confirmed"), ("exposure", "top")):
            for dimension in dimensions(entity):
                rows = _release(*_by_group(units, dimension, share), params)
                rates = [r["rate"] for r in rows if r["rate"] is not None]
                if view == "coverage":
                    base = max(rates, default=0.0)
                else:  # everyone's top-k share, from the same noisy figures
                    counted = [(r["subjects"], r["rate"]) for r in rows if r["rate"] is not None]
                    total = sum(c for c, _ in counted)
                    base = sum(c * r for c, r in counted) / total if total else 0.0
                for r in rows:
                    ratio = r["rate"] / base if r["rate"] is not None and base > 0 else None
                    out[view].append({
                        "subjects_of": entity, "dimension": dimension, **r,
                        "ratio": None if ratio is None else round(ratio, 3),
                        "rate": None if r["rate"] is None else round(r["rate"], 3),
                        "flagged": ratio is not None and ratio < FOUR_FIFTHS,
                    })  # fmt: skip
    return out


def ranked_offers(
    pairs: pl.DataFrame, policies: Sequence[Policy], population: Path, schema: Schema, *,
    as_of: date, models: Path, personalised: bool,
) -> tuple[pl.DataFrame, str]:  # fmt: skip
    """The run's offers in the order pushes take them, and what ordered them: the model in use
    (:meth:`matcher.ranking.ModelRegistry.load_for_ordering`, as the push planner) when
    personalisation is on and there is one, else the rules alone."""
    from core.errors import NotFoundError
    from matcher.ranking import ModelRegistry, rank_offers
    from matcher.ranking.inputs import read_profiles

    known = {p.id for p in policies}
    pairs = pairs.filter(pl.col("policy_id").is_in(list(known)))
    if personalised:
        try:
            model, info = ModelRegistry(models).load_for_ordering()
        except NotFoundError:
            pass
        else:
            ranked = rank_offers(
                pairs, policies=policies, personalised=True, model=model,
                profiles=read_profiles(population, schema, as_of=as_of), schema=schema,
                reasons=0, as_of=as_of,
            )  # fmt: skip
            return ranked, f"model {info.version}"
    return rank_offers(pairs, policies=policies, personalised=False), "rules only"
