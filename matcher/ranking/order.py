"""The order of each subject's offers: 免申即享 grants first, then offers by what telling adds.

:func:`rank_offers` is what the push planner and the demo call.  What ranking decides depends
on the policy's mode:

* 免申即享 (auto_grant) grants are paid whether or not the person reads the notice; they are
  never scored on take-up and never ranked — their notices come first (eligible before maybe,
  the larger annual benefit first), with the rule's facts as reasons (``ranked`` is false);
* 服务找人 (proactive_push) and 直达快享 (fast_track) offers are ranked.  Personalised, by the
  model's uplift — the take-up the push causes — explained by the citable features that moved
  it most (by predicted take-up when the model has no uplift part).  Rules-only — the
  non-personalised mode China's 2022 provisions on algorithmic recommendation require — by
  the policy and the rule's own result: eligible before maybe, the larger annual benefit the
  rule grants first, then the policy id.

A model trained with ``--audit-features`` (protected or sensitive fields) is refused.

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
>>> ranked.select("policy_id", "rank", "ranked").rows()
[('y', 1, False), ('x', 2, True), ('z', 3, True)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import polars as pl

from core.errors import ValidationError
from matcher.ranking.explain import MODE_LABELS, probability_parts, reason_texts
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
        "ranked": pl.Boolean(),  # false: a grant, told first and never scored
        "reasons": pl.List(pl.String()),
    }
)
_PAIRS = ("subject_id", "subject_type", "policy_id", "status")
_GRANT_REASON = "免申即享，无需申请，通知优先 (granted without applying; its notice comes first)"


def _with_rule_facts(pairs: pl.DataFrame, policies: Sequence[Policy]) -> pl.DataFrame:
    """The pairs with their rule facts (grant?, eligible?, annual benefit) and those as reasons."""
    table = policy_frame(policies).select("policy_id", "mode", "benefit_period", "has_benefit")
    frame = pairs.join(table, on="policy_id", how="left").with_columns(
        annual_benefit(pl.col("benefit"), pl.col("benefit_period")).alias("_annual"),
        (pl.col("mode").cast(pl.String) == "auto_grant").fill_null(False).alias("_auto"),
        (pl.col("status") == "eligible").alias("_eligible"),
    )
    reasons = pl.concat_list(
        pl.when(pl.col("_auto"))
        .then(
            pl.lit(
                "免申即享，无需申请，通知优先 (granted without applying; its notice comes first)"
            )
        )
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
    return frame.with_columns(reasons.alias("reasons"))


def _numbered(frame: pl.DataFrame, keys: list[str], descending: list[bool]) -> pl.DataFrame:
    return frame.sort(
        ["subject_id", *keys, "policy_id"], descending=[False, *descending, False], nulls_last=True
    ).with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over("subject_id").alias("rank"))


def _rules_only(pairs: pl.DataFrame, policies: Sequence[Policy]) -> pl.DataFrame:
    frame = _with_rule_facts(pairs, policies).with_columns(
        pl.lit(None, dtype=pl.Float64).alias("score"),
        pl.lit(None, dtype=pl.Float64).alias("uplift"),
        (~pl.col("_auto")).alias("ranked"),
    )
    return _numbered(frame, ["_auto", "_eligible", "_annual"], [True, True, True])


def _personalised(
    pairs: pl.DataFrame,
    policies: Sequence[Policy],
    model: RankingModel,
    profiles: Mapping[str, pl.DataFrame],
    schema: Schema,
    history: pl.DataFrame | None,
    reasons: int,
    as_of: date | None,
) -> pl.DataFrame:
    facts = _with_rule_facts(pairs, policies)
    grants = facts.filter(pl.col("_auto")).with_columns(
        (pl.col("reasons") if reasons > 0 else pl.lit([], dtype=pl.List(pl.String))).alias(
            "reasons"
        ),
        pl.lit(None, dtype=pl.Float64).alias("score"),
        pl.lit(None, dtype=pl.Float64).alias("uplift"),
        pl.lit(False).alias("ranked"),
        # grants among themselves: eligible first, then the larger benefit (as the rules do)
        pl.col("_eligible").cast(pl.Float64).alias("_key"),
    )
    offers = facts.filter(~pl.col("_auto")).drop("reasons")
    x = build_features(model.spec, offers, profiles, policies, schema, history=history, as_of=as_of)
    uplift = model.control is not None
    gained = None
    if reasons > 0 and len(x):
        bias, contributions = model.response.contributions(x)
        base, parts = probability_parts(bias, contributions)
        score = base + parts.sum(axis=1)
        if model.control is not None:  # explain the uplift: both models' parts, subtracted
            c_bias, c_contributions = model.control.contributions(x)
            c_base, c_parts = probability_parts(c_bias, c_contributions)
            parts = parts - c_parts
            gained = (base - c_base) + parts.sum(axis=1)
        labels = MODE_LABELS | {p.id: p.title for p in policies}
        texts, width = reason_texts(model.spec, x, parts, top=reasons, labels=labels)
        listed = pl.Series("reasons", texts, dtype=pl.String()).reshape((len(x), width))
        listed = listed.cast(pl.List(pl.String()))
    else:  # scores only: no contributions to compute
        score = model.take_up(x)
        if model.control is not None:
            gained = score - model.control.proba(x)
        listed = pl.Series("reasons", [[]] * len(x), dtype=pl.List(pl.String()))
    offers = offers.with_columns(
        pl.Series("score", score, dtype=pl.Float64),
        pl.Series("uplift", gained if gained is not None else [None] * len(x), dtype=pl.Float64),
        pl.lit(True).alias("ranked"),
        listed.alias("reasons"),
    ).with_columns(pl.col("uplift" if uplift else "score").alias("_key"))
    frame = pl.concat([grants, offers.select(grants.columns)], how="vertical_relaxed")
    # grants first, then the ranked offers by what telling adds (or take-up)
    return _numbered(frame, ["ranked", "_key", "_annual"], [False, True, True])


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
    as_of: date | None = None,
) -> pl.DataFrame:
    """Each subject's eligible and maybe offers in order, with a score and its reasons.

    Returns :data:`RANKED_SCHEMA`: ``score`` is the predicted take-up if pushed and ``uplift``
    the take-up the push adds (both null for grants and in rules-only mode); ``rank`` counts
    from 1 per subject, grants first; ``ranked`` is false for grants; ``reasons`` are the
    citable features that moved the uplift (or take-up) most, in plain words (grants and
    rules-only: the rule facts the order used).  ``as_of`` is the date a policy's deadline is
    counted from.  ``personalised=False`` never reads ``model``, ``profiles`` or ``history``.
    A model for audits only is refused (:class:`AuditModelError`).
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
        model.refuse_if_audit()
        # A household's offers are told to its head and ordered by the rules: the model reads
        # residents' and firms' profiles only.
        people = pl.col("subject_type").is_in(("resident", "enterprise"))
        ranked = pl.concat(
            [_personalised(frame.filter(people), policies, model, profiles, schema, history,
                           reasons, as_of).select(list(RANKED_SCHEMA.names())),
             _rules_only(frame.filter(~people), policies).select(list(RANKED_SCHEMA.names()))],
            how="vertical_relaxed",
        )  # fmt: skip
    else:
        ranked = _rules_only(frame, policies)
    return ranked.select(list(RANKED_SCHEMA.names())).cast(dict(RANKED_SCHEMA))  # type: ignore[arg-type]
