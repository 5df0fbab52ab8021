"""The response and uplift models: HistGradientBoosting on outcome logs, as plain tree arrays.

Only offers that ranking orders are learnt from: 服务找人 (proactive_push) and 直达快享
(fast_track).  A 免申即享 (auto_grant) grant is paid whether or not the person reads its notice;
nobody applies for it, so it has no take-up to predict — its rows are left out.

* **Response**: P(applied | pushed), fitted on the pushed rows — the take-up an offer can
  expect once the subject is told.
* **Uplift** (T-learner): a second model P(applied | not pushed) on the randomised holdout's
  untreated rows; predicted uplift = response − control, the take-up the push itself causes.
  Offers are ordered by it (by the response alone when the log had no holdout).

Every campaign of the log is a training target: the last round's offers with the earlier
rounds as each subject's history, and each earlier round's offers with the *other* rounds as
history (campaigns are independent draws of the same people's behaviour, so the other rounds
are the same kind of evidence; rates per campaign do not depend on how many there were).  With
a two-campaign log this doubles the offers learnt from: one campaign's ~5,000 pushed offers at
20,000 residents estimated each policy's gain from a push (a difference of two models) too
noisily to beat per-policy take-up once the population's offers became households' and firms'
(most of the true uplift lies between policies: 技能提升补贴's firms rarely find it alone).
Each policy's take-up once told (and when not told, and the difference) in the *other*
campaigns' training subjects, smoothed towards the campaign-wide rate, was tried as features
(issue 18) and left out: NDCG@5 by true uplift 0.9784 -> 0.9693 at 10,000 residents and
0.9795 -> 0.9763 at 50,000 (seed 1; popularity 0.9639, 0.9673), neutral over seeds 1-3 at
20,000 — the policy one-hots already learn each policy's take-up from every campaign, and
a rate from the other campaign alone is the same signal from half the offers.
Metrics are measured on the last round only (:attr:`TrainingData.rows`).  Subjects (not rows)
are split into training and held-out sets, so a held-out subject's offers are all unseen in
every round.  The same seed and data give the same trees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from core.errors import ValidationError
from matcher.ranking.features import FeatureSpec, build_features, data_hash, fit_feature_spec
from matcher.ranking.trees import TreeEnsemble, from_sklearn
from profiles.schema import Schema
from rules.policy import Policy

__all__ = [
    "LOG_COLUMNS",
    "RANKED_MODES",
    "AuditModelError",
    "RankingModel",
    "TrainingData",
    "TrainingParams",
    "fit_ensemble",
    "fit_models",
    "held_out_subjects",
    "prepare",
]

LOG_COLUMNS = ("round", "subject_id", "policy_id", "pushed", "applied")
# The modes whose offers ranking orders; auto_grant grants are always told, first.
RANKED_MODES = ("proactive_push", "fast_track")


@dataclass(frozen=True)
class TrainingParams:
    """HistGradientBoosting settings (no early stopping: the same seed, the same trees)."""

    max_iter: int = 150
    learning_rate: float = 0.08
    # Small trees with large leaves: a leaf of 40 offers fitted noise in the subjects' district
    # and tag columns; 8 leaves of at least 100 keep the trees on what recurs (policy, amount,
    # status, past behaviour).  At 20,000 residents uplift@20 % (expected) 0.254 -> 0.259.
    max_leaf_nodes: int = 8
    min_samples_leaf: int = 100
    l2_regularization: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class AuditModelError(ValidationError):
    """A model trained on protected or sensitive fields was asked to order offers."""


@dataclass(frozen=True, eq=False)
class RankingModel:
    """Feature spec, response trees and (for uplift) the untreated arm's trees."""

    spec: FeatureSpec
    response: TreeEnsemble
    control: TreeEnsemble | None = None

    def take_up(self, x: np.ndarray) -> np.ndarray:
        """Predicted probability of taking the offer up once pushed."""
        return self.response.proba(x)

    def uplift(self, x: np.ndarray) -> np.ndarray:
        """Predicted take-up gained by pushing: P(apply | push) − P(apply | no push)."""
        if self.control is None:
            raise ValidationError(
                "this model has no uplift part; train it on a log with pushed and not pushed rows"
            )
        gained: np.ndarray = self.response.proba(x) - self.control.proba(x)
        return gained

    def refuse_if_audit(self, version: str = "") -> None:
        """Raise :class:`AuditModelError` if this model reads what may not be cited: trained
        with ``--audit-features``, it is for audits only and never orders offers."""
        if self.spec.audit:
            named = "、".join(self.spec.uncitable[:6])
            raise AuditModelError(
                f"model {version + ' ' if version else ''}reads protected or sensitive fields "
                f"({named}) and is for audits only: it never orders offers or pushes; train "
                "one without --audit-features (`zhida rank train`)"
            )


def fit_ensemble(
    x: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    monotonic: Sequence[int],
    params: TrainingParams = TrainingParams(),
) -> TreeEnsemble:
    """Fit a HistGradientBoostingClassifier (explicit encodings, monotonic constraints)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    if len(np.unique(y)) < 2:
        raise ValidationError(
            f"cannot fit a take-up model on {len(y):,} rows that all have the same outcome; "
            "simulate or collect a larger outcome log"
        )
    model = HistGradientBoostingClassifier(
        max_iter=params.max_iter,
        learning_rate=params.learning_rate,
        max_leaf_nodes=params.max_leaf_nodes,
        min_samples_leaf=params.min_samples_leaf,
        l2_regularization=params.l2_regularization,
        monotonic_cst=list(monotonic),
        categorical_features=None,
        early_stopping=False,
        random_state=seed,
    )
    # A column unknown in every row (a deadline without an as-of date, the fields of an audience
    # the rows lack) cannot be binned; as a constant it gets no split and no contribution.
    empty = np.isnan(x).all(axis=0)
    if empty.any():
        x = np.where(empty, 0.0, x)
    # One OpenMP thread: on a shared machine more threads made fitting 7x slower (2 cores,
    # 4 processes), and the trees do not depend on the thread count.
    with threadpool_limits(limits=1):
        model.fit(x, y)
    return from_sklearn(model)


def held_out_subjects(subject_ids: pl.Series, *, seed: int, share: float) -> set[str]:
    """A seeded random ``share`` of the distinct subjects (the same for the same ids and seed).

    >>> ids = pl.Series([f"s{i}" for i in range(1000)])
    >>> held = held_out_subjects(ids, seed=1, share=0.3)
    >>> 250 < len(held) < 350, held == held_out_subjects(ids.reverse(), seed=1, share=0.3)
    (True, True)
    """
    unique = subject_ids.unique().sort().to_list()
    draw = np.random.default_rng([seed, 3]).random(len(unique))
    return {s for s, u in zip(unique, draw, strict=True) if u < share}


@dataclass(frozen=True, eq=False)
class TrainingData:
    """The last round's rows (with features), split by subject, and the history before it."""

    rows: (
        pl.DataFrame
    )  # subject_id, subject_type, policy_id, status, benefit, pushed, applied, held_out
    x: np.ndarray
    spec: FeatureSpec
    history: pl.DataFrame
    # The earlier campaigns' rows (same columns) and features, each with the other campaigns
    # as history: learnt from beside the training subjects' rows of the last round, never
    # measured on.
    earlier: pl.DataFrame | None = None
    earlier_x: np.ndarray | None = None

    @property
    def train(self) -> np.ndarray:
        return ~self.rows["held_out"].to_numpy()

    def fitting(self) -> tuple[np.ndarray, pl.DataFrame]:
        """The features and rows the models learn from: every campaign's training subjects."""
        keep = self.train
        if self.earlier is None or self.earlier_x is None or self.earlier.height == 0:
            return self.x[keep], self.rows.filter(pl.Series(keep))
        old = ~self.earlier["held_out"].to_numpy()
        return (
            np.vstack([self.x[keep], self.earlier_x[old]]),
            pl.concat([self.rows.filter(pl.Series(keep)), self.earlier.filter(pl.Series(old))]),
        )

    @property
    def training_offers(self) -> int:
        """How many offers (over every campaign) the models learn from."""
        return self.fitting()[1].height

    def hash(self) -> str:
        x, rows = self.fitting()
        return data_hash(
            self.x,
            self.rows["pushed"].to_numpy(),
            self.rows["applied"].to_numpy(),
            self.rows["held_out"].to_numpy(),  # which subjects trained it is part of the data
            x,
            rows["pushed"].to_numpy(),
            rows["applied"].to_numpy(),
        )


def prepare(
    log: pl.DataFrame,
    pairs: pl.DataFrame,
    profiles: Mapping[str, pl.DataFrame],
    policies: Sequence[Policy],
    schema: Schema,
    *,
    seed: int,
    test_share: float = 0.3,
    audit: bool = False,
    spec: FeatureSpec | None = None,
    tag_names: Mapping[str, str] | None = None,
    tag_sensitivity: Mapping[str, str] | None = None,
    as_of: date | None = None,
) -> TrainingData:
    """Join the last round of ``log`` with the pairs' benefits and build its features; the
    earlier rounds likewise (:attr:`TrainingData.earlier`), each with the other rounds as
    history, for the models to learn from too.

    Rows are the offers of the ranked modes (:data:`RANKED_MODES`); grants are left out.
    ``spec`` (a stored model's) fixes the columns; without it they are fitted on the
    training subjects — citable ones only unless ``audit`` (see :func:`fit_feature_spec`).
    ``as_of`` is the campaign's date, which a policy's deadline is counted from.
    """
    missing = [c for c in LOG_COLUMNS if c not in log.columns]
    if missing:
        raise ValidationError(
            f"the outcome log lacks {', '.join(missing)}; make one with `zhida rank outcomes`"
        )
    if log.height == 0:
        raise ValidationError("the outcome log is empty; make one with `zhida rank outcomes`")
    if not 0.0 < test_share < 1.0:
        raise ValidationError(f"test share {test_share} must be between 0 and 1, e.g. 0.3")
    last = int(log["round"].max())  # type: ignore[arg-type]
    history = log.filter(pl.col("round") < last)
    ranked = [p.id for p in policies if p.mode in RANKED_MODES]
    current = log.filter(pl.col("round") == last, pl.col("policy_id").is_in(ranked)).select(
        "subject_id", "policy_id", "pushed", "applied"
    )
    if current.height == 0:
        raise ValidationError(
            "the outcome log's last campaign has no offer of a ranked mode (服务找人 "
            "proactive_push, 直达快享 fast_track); grants are told first and never ranked, so "
            "there is nothing to learn — simulate or collect campaigns with such offers"
        )
    rows = _with_pairs(current, pairs)
    held = list(held_out_subjects(rows["subject_id"], seed=seed, share=test_share))
    rows = rows.with_columns(pl.col("subject_id").is_in(held).alias("held_out"))
    train_pairs = rows.filter(~pl.col("held_out"))
    if spec is None:
        spec = fit_feature_spec(
            train_pairs,
            profiles,
            policies,
            schema,
            audit=audit,
            history=history.height > 0,
            tag_names=tag_names,
            tag_sensitivity=tag_sensitivity,
        )
    x = build_features(
        spec, rows, profiles, policies, schema,
        history=history if history.height else None, as_of=as_of,
    )  # fmt: skip
    earlier, earlier_x = [], []
    for r in sorted(set(history["round"].to_list())):
        offers = history.filter(pl.col("round") == r, pl.col("policy_id").is_in(ranked))
        if offers.height == 0:
            continue
        found = _with_pairs(offers.select(current.columns), pairs).with_columns(
            pl.col("subject_id").is_in(held).alias("held_out")
        )
        earlier.append(found)
        others = log.filter(pl.col("round") != r)
        earlier_x.append(
            build_features(spec, found, profiles, policies, schema, history=others, as_of=as_of)
        )
    return TrainingData(
        rows=rows, x=x, spec=spec, history=history,
        earlier=pl.concat(earlier) if earlier else None,
        earlier_x=np.vstack(earlier_x) if earlier_x else None,
    )  # fmt: skip


def _with_pairs(offers: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """One campaign's offers with their pairs' type, status and benefit; every row must match."""
    rows = offers.join(
        pairs.select("subject_id", "subject_type", "policy_id", "status", "benefit"),
        on=["subject_id", "policy_id"],
        how="inner",
    ).sort("subject_id", "policy_id")
    if rows.height < offers.height:
        raise ValidationError(
            f"{offers.height - rows.height:,} rows of the outcome log have no pair in the pairs "
            "file; pass the pairs the log was simulated from"
        )
    return rows


def fit_models(
    data: TrainingData, *, seed: int, params: TrainingParams = TrainingParams()
) -> RankingModel:
    """Response trees on the pushed training rows, control trees on the untreated ones
    (of every campaign: :meth:`TrainingData.fitting`)."""
    x, rows = data.fitting()
    pushed = rows["pushed"].to_numpy()
    applied = rows["applied"].to_numpy().astype(np.int8)
    mono = data.spec.monotonic
    if not pushed.any():
        raise ValidationError(
            "the outcome log's campaigns pushed none of the training offers; a response "
            "model needs pushed offers — simulate with `zhida rank outcomes --share 0.5`"
        )
    response = fit_ensemble(x[pushed], applied[pushed], seed=seed, monotonic=mono, params=params)
    control = None
    if (~pushed).sum() and len(np.unique(applied[~pushed])) == 2:
        control = fit_ensemble(
            x[~pushed],
            applied[~pushed],
            seed=seed,
            monotonic=mono,
            params=params,
        )
    return RankingModel(spec=data.spec, response=response, control=control)
