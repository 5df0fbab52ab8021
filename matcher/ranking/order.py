"""The order of each subject's offers: by predicted take-up, or by the rules alone.

:func:`rank_offers` is what the push planner and the demo call.  Personalised, it scores every
(subject, policy) pair with the response model (and the uplift model when there is one) and
explains each score.  Rules-only — the non-personalised mode China's 2022 provisions on
algorithmic recommendation require to be available — it reads no personal characteristics and
orders by the policy and the rule's own result: auto-granted first, eligible before maybe, the
larger annual benefit the rule grants first, then the policy id.

>>> from datetime import date
>>> from rules.policy import Policy
>>> def p(id, mode):
...     return Policy(id=id, title=id, department="d", audience="resident", mode=mode,
...                   eligibility="age > 1", valid_from=date(2020, 1, 1), benefit_period="month")
>>> pairs = pl.DataFrame({"subject_id": ["a", "a", "a"], "subject_type": ["resident"] * 3,
...     "policy_id": ["x", "y", "z"], "status": ["eligible", "eligible", "maybe"],
...     "benefit": [100.0, 50.0, 900.0]})
>>> ranked = rank_offers(pairs, policies=[p("x", "proactive_push"), p("y", "auto_grant"),
...                      p("z", "proactive_push")], personalised=False)
>>> ranked.select("policy_id", "rank").rows()
[('y', 1), ('x', 2), ('z', 3)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from core.errors import ValidationError
from matcher.ranking.explain import MODE_LABELS, reason_texts
from matcher.ranking.features import build_features
from matcher.ranking.model import RankingModel
from matcher.ranking.policies import annual_benefit, policy_frame
from profiles.schema import Schema
from rules.policy import Policy

__all__ = ["RANKED_SCHEMA", "rank_offers"]

RANKED_SCHEMA = pl.Schema(
    {
        "subject_id": pl.String(),
        "subject_type": pl.String(),
        "policy_id": pl.String(),
        "status": pl.String(),
        "benefit": pl.Float64(),
        "score": pl.Float64(),
        "uplift": pl.Float64(),
        "rank": pl.UInt32(),
        "reasons": pl.List(pl.String()),
    }
)
_PAIRS = ("subject_id", "subject_type", "policy_id", "status")


def _rules_only(pairs: pl.DataFrame, policies: Sequence[Policy]) -> pl.DataFrame:
    table = policy_frame(policies).select("policy_id", "mode", "benefit_period", "has_benefit")
    frame = pairs.join(table, on="policy_id", how="left").with_columns(
        annual_benefit(pl.col("benefit"), pl.col("benefit_period")).alias("_annual"),
        (pl.col("mode").cast(pl.String) == "auto_grant").fill_null(False).alias("_auto"),
        (pl.col("status") == "eligible").alias("_eligible"),
    )
    reasons = pl.concat_list(
        pl.when(pl.col("_auto"))
        .then(pl.lit("免申即享，自动享受 (granted without applying)"))
        .otherwise(pl.lit("需本人申请 (needs an application)")),
        pl.when(pl.col("_eligible"))
        .then(pl.lit("资格已确认 (eligibility confirmed)"))
        .otherwise(pl.lit("资格待确认 (eligibility still to confirm)")),
        pl.when(pl.col("_annual").is_not_null())
        .then(
            pl.format(
                "年化待遇 {} 元 (annual benefit {} CNY)",
                pl.col("_annual").round(0).cast(pl.Int64),
                pl.col("_annual").round(0).cast(pl.Int64),
            )
        )
        .when(pl.col("has_benefit"))
        .then(pl.lit("待遇金额待定 (benefit amount not yet known)"))
        .otherwise(pl.lit("非现金服务 (a service, no cash benefit)")),
    )
    return frame.sort(
        ["subject_id", "_auto", "_eligible", "_annual", "policy_id"],
        descending=[False, True, True, True, False],
        nulls_last=True,
    ).with_columns(
        pl.lit(None, dtype=pl.Float64).alias("score"),
        pl.lit(None, dtype=pl.Float64).alias("uplift"),
        pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over("subject_id").alias("rank"),
        reasons.alias("reasons"),
    )


def _personalised(
    pairs: pl.DataFrame,
    policies: Sequence[Policy],
    model: RankingModel,
    profiles: Mapping[str, pl.DataFrame],
    schema: Schema,
    history: pl.DataFrame | None,
    reasons: int,
) -> pl.DataFrame:
    x = build_features(model.spec, pairs, profiles, policies, schema, history=history)
    if reasons > 0 and len(x):
        bias, contributions = model.response.contributions(x)
        score = 1.0 / (1.0 + np.exp(-(bias + contributions.sum(axis=1))))
        labels = MODE_LABELS | {p.id: p.title for p in policies}
        texts, width = reason_texts(model.spec, x, contributions, top=reasons, labels=labels)
        listed = pl.Series("reasons", texts, dtype=pl.String()).reshape((len(x), width))
        listed = listed.cast(pl.List(pl.String()))
    else:  # scores only: no contributions to compute
        score = model.take_up(x)
        listed = pl.Series("reasons", [[]] * len(x), dtype=pl.List(pl.String()))
    # uplift = P(apply | push) - P(apply | no push); the first term is the score already
    uplift = score - model.control.proba(x) if model.control is not None else [None] * len(x)
    frame = pairs.with_columns(
        pl.Series("score", score, dtype=pl.Float64),
        pl.Series("uplift", uplift, dtype=pl.Float64),
        listed.alias("reasons"),
    )
    return frame.sort(
        ["subject_id", "score", "policy_id"], descending=[False, True, False]
    ).with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over("subject_id").alias("rank"))


def rank_offers(
    pairs: pl.DataFrame,
    *,
    policies: Sequence[Policy],
    personalised: bool,
    model: RankingModel | None = None,
    profiles: Mapping[str, pl.DataFrame] | None = None,
    schema: Schema | None = None,
    history: pl.DataFrame | None = None,
    reasons: int = 3,
) -> pl.DataFrame:
    """Each subject's eligible and maybe offers in order, with a score and its reasons.

    Returns :data:`RANKED_SCHEMA`: ``score`` is the predicted take-up if pushed and ``uplift``
    the take-up the push adds (both null in rules-only mode); ``rank`` counts from 1 per
    subject; ``reasons`` are the top features of each score in plain words (rules-only: the
    rule facts the order used).  ``personalised=False`` never reads ``model``, ``profiles``
    or ``history``.
    """
    missing = [c for c in _PAIRS if c not in pairs.columns]
    if missing:
        raise ValidationError(
            f"pairs lack the column(s) {', '.join(missing)}; expected a `zhida match` pairs file"
        )
    known = {p.id for p in policies}
    unknown = sorted(set(pairs["policy_id"].unique().to_list()) - known)
    if unknown:
        raise ValidationError(
            f"the pairs name policies the catalog lacks ({', '.join(unknown[:5])}); pass the "
            "catalog the pairs were matched with"
        )
    frame = pairs.with_columns(
        pl.col("subject_type").cast(pl.String),
        pl.col("status").cast(pl.String),
        (pl.col("benefit") if "benefit" in pairs.columns else pl.lit(None))
        .cast(pl.Float64)
        .alias("benefit"),
    )
    if personalised:
        if model is None or profiles is None or schema is None:
            raise ValidationError(
                "personalised ranking needs a trained model and the profiles; train one with "
                "`zhida rank train`, or rank by the rules alone (ZHIDA_PERSONALISATION=off)"
            )
        ranked = _personalised(frame, policies, model, profiles, schema, history, reasons)
    else:
        ranked = _rules_only(frame, policies)
    return ranked.select(list(RANKED_SCHEMA.names())).cast(dict(RANKED_SCHEMA))  # type: ignore[arg-type]
