"""The behaviour model: how residents and firms respond to an offer, known only to the simulator.

Ranking models are judged against a ground truth nobody has in real life: for every
(subject, policy) pair, the probability of taking the policy up **without** a push and **with**
one.  The simulator draws outcome logs from it; the models see only the logs.

Assumptions (each a plain logistic term; the coefficients are :class:`BehaviourParams`):

* **Digital reach** ``z`` is a latent trait per subject.  Residents: it falls with age (-0.06 a
  year from 45), rises with work (employed, self-employed, student) and with an e-mail address,
  falls with social assistance.  Firms: it rises with size class and high-tech status.  Each
  subject also has an unobserved part, N(0, 1) — what their past opens reveal.
* **Finding it alone** (no push): ``logit p_find = -2 + 1.2 z + visibility(policy)
  - 1.5 [aged 70+ living alone] + 0.5 [auto_grant]``.  The elderly living alone and people of
  low digital reach rarely find a policy by themselves; well-known policies are found more.
* **Opening a push**: ``logit p_open = 0.3 + 0.35 z`` — a push reaches most people, the
  digitally remote somewhat less.
* **Taking it up once seen** ``q``: ``logit q = -1 + appeal(policy) + 0.45 ln(1 + annual
  benefit / 1000) + ease(mode) - 1.2 [status maybe] + need + ε``, where ease is 1.2 for
  auto_grant (take-up = confirming or activating the benefit), 0.5 for fast_track, 0 for
  proactive_push; need adds 0.8 for social assistance, 0.6 for a monthly income under 3,000 CNY,
  0.4 for age 60+ (firms: 0.6 micro/small, 0.5 layoff rate over 10 %); ε ~ N(0, 0.5) per pair.
  A ``maybe`` is less likely to be taken up (the applicant may turn out not to qualify).
* Take-up without a push is ``p_find · q``; with a push ``(1 - (1 - p_find)(1 - p_open)) · q``.
  The push's true uplift ``p_open (1 - p_find) q`` is therefore high for those who would never
  find the policy and near zero for those who would apply anyway.
* **Complaints** come only from pushes that were opened and not taken up, with
  ``logit p_complain = -4 + 3 (1 - q) + 1 [status maybe]``: the less relevant, the likelier.
* **Grants** (免申即享, ``auto_grant``) are paid whether or not the person reads the notice:
  nobody applies, so a grant has no take-up (``p_without``, ``p_with`` and ``uplift`` are
  null, and so is a drawn ``applied``).  Its outcome is **acknowledged** (the person found it
  or opened its notice) and, of those, **objected** (disputed the grant) with
  ``logit p_object = -4 + 1.5 [status maybe]`` — a grant on an unconfirmed fact is more often
  wrong.  No complaint is drawn for a grant notice: what it tells is a payment made.
* Policy appeal and visibility are N(0, 0.6) and N(0, 0.8), drawn from a hash of (seed,
  policy id), and a subject's unobserved reach from a hash of (seed, subject id): the truth of a
  pair does not depend on who else is in the population or in which order.

:func:`draw_outcomes` assigns pushes at random with a given share (a randomised holdout) and
draws one round of outcomes; rounds are independent campaigns over the same pairs, so earlier
rounds are the history later ones learn from.  Everything is columnar (polars and numpy).

>>> truth = pl.DataFrame({
...     "subject_id": ["a", "b", "c"], "subject_type": ["resident"] * 3,
...     "policy_id": ["p", "p", "g"], "status": ["eligible"] * 3,
...     "mode": ["proactive_push", "proactive_push", "auto_grant"],
...     "p_find": [0.9, 0.05, 0.05], "p_open": [0.8, 0.5, 0.5], "q": [0.5, 0.5, 0.5],
...     "p_complain": [0.1, 0.1, 0.1], "p_object": [0.02, 0.02, 0.02],
... })
>>> rows = with_uplift(truth).select("p_without", "p_with", "uplift").rows()
>>> [tuple(None if v is None else round(v, 4) for v in r) for r in rows]
[(0.45, 0.49, 0.04), (0.025, 0.2625, 0.2375), (None, None, None)]
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from core.errors import ValidationError
from matcher.ranking.policies import annual_benefit, policy_frame
from rules.policy import Policy

__all__ = [
    "GRANT_OUTCOMES",
    "OUTCOME_COLUMNS",
    "SIMULATED_COLUMNS",
    "TRUTH_COLUMNS",
    "BehaviourParams",
    "draw_outcomes",
    "simulate_outcomes",
    "true_propensities",
    "with_uplift",
]

OUTCOME_COLUMNS = (
    "round",
    "subject_id",
    "subject_type",
    "policy_id",
    "status",
    "pushed",
    "opened",
    "applied",
    "ignored",
    "complained",
)
# What a grant's notice leads to (null for offers): the person knew of it, and disputed it.
GRANT_OUTCOMES = ("acknowledged", "objected")
# A simulated log: the outcome log's contract (notifier.receipts) and the grants' outcomes.
SIMULATED_COLUMNS = (*OUTCOME_COLUMNS, *GRANT_OUTCOMES)
TRUTH_COLUMNS = (
    "subject_id",
    "subject_type",
    "policy_id",
    "status",
    "mode",
    "p_find",
    "p_open",
    "q",
    "p_complain",
    "p_object",
    "p_without",
    "p_with",
    "uplift",
)
_PAIR_COLUMNS = ("subject_id", "subject_type", "policy_id", "status", "benefit")


@dataclass(frozen=True)
class BehaviourParams:
    """The coefficients of the assumptions in the module docstring."""

    find_base: float = -2.0
    find_reach: float = 1.2
    find_alone_elderly: float = -1.5
    find_auto_grant: float = 0.5
    open_base: float = 0.3
    open_reach: float = 0.35
    take_base: float = -1.0
    take_benefit: float = 0.45
    take_maybe: float = -1.2
    take_noise: float = 0.5
    appeal_sd: float = 0.6
    visibility_sd: float = 0.8
    complain_base: float = -4.0
    complain_irrelevance: float = 3.0
    complain_maybe: float = 1.0
    object_base: float = -4.0
    object_maybe: float = 1.5


_EASE = {"auto_grant": 1.2, "fast_track": 0.5, "proactive_push": 0.0}
_SIZE_REACH = {"micro": -0.5, "small": 0.0, "medium": 0.7, "large": 1.5}


def _hash_normal(keys: Sequence[str], seed: int, salt: str) -> np.ndarray:
    """Standard normal draws, one per key, from a hash of (seed, salt, key) — order-free."""
    u = np.empty((len(keys), 2))
    for i, key in enumerate(keys):
        digest = hashlib.blake2b(f"{seed}:{salt}:{key}".encode(), digest_size=16).digest()
        u[i, 0] = (int.from_bytes(digest[:8], "little") + 0.5) / 2.0**64
        u[i, 1] = (int.from_bytes(digest[8:], "little") + 0.5) / 2.0**64
    return np.sqrt(-2.0 * np.log(u[:, 0])) * np.cos(2.0 * np.pi * u[:, 1])  # Box-Muller


def _logistic(x: pl.Expr) -> pl.Expr:
    return 1.0 / (1.0 + (-x).exp())


def _flag(condition: pl.Expr) -> pl.Expr:
    return condition.fill_null(False).cast(pl.Float64)


def _resident_traits(frame: pl.DataFrame) -> pl.DataFrame:
    age = pl.col("age").cast(pl.Float64).fill_null(45.0)
    working = (
        pl.col("employment_status").cast(pl.String).is_in(["employed", "self_employed", "student"])
    )
    assisted = pl.col("subsistence_status").cast(pl.String).is_in(["dibao", "low_income", "tekun"])
    return frame.select(
        pl.col("person_id").alias("subject_id"),
        (
            1.0
            - 0.06 * (age - 45.0)
            + 0.6 * _flag(working)
            + 0.8 * _flag(pl.col("email").is_not_null())
            - 0.4 * _flag(assisted)
        ).alias("reach"),
        _flag((pl.col("age") >= 70) & (pl.col("household_size") == 1)).alias("alone_elderly"),
        (
            0.8 * _flag(assisted)
            + 0.6 * _flag(pl.col("monthly_income") < 3000)
            + 0.4 * _flag(pl.col("age") >= 60)
        ).alias("need"),
    )


def _enterprise_traits(frame: pl.DataFrame) -> pl.DataFrame:
    size = pl.col("size_class").cast(pl.String)
    return frame.select(
        pl.col("enterprise_id").alias("subject_id"),
        (size.replace_strict(_SIZE_REACH, default=0.0) + 0.5 * _flag(pl.col("high_tech"))).alias(
            "reach"
        ),
        pl.lit(0.0).alias("alone_elderly"),
        (
            0.6 * _flag(size.is_in(["micro", "small"])) + 0.5 * _flag(pl.col("layoff_rate") > 0.1)
        ).alias("need"),
    )


def _columns(frame: pl.DataFrame, names: Sequence[str], what: str) -> None:
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"{what} lacks the column(s) {', '.join(missing)}; expected a `zhida match` pairs file"
            if what == "pairs"
            else f"{what} lacks the column(s) {', '.join(missing)}"
        )


def true_propensities(
    pairs: pl.DataFrame,
    profiles: Mapping[str, pl.DataFrame],
    policies: Sequence[Policy],
    *,
    seed: int,
    params: BehaviourParams = BehaviourParams(),
) -> pl.DataFrame:
    """The ground truth of every pair: ``p_find``, ``p_open``, ``q``, ``p_complain``, uplift.

    ``profiles`` maps ``resident``/``enterprise`` to frames with their derived fields (``age``).
    Rows come back sorted by subject and policy, whatever the order of ``pairs``.
    """
    _columns(pairs, _PAIR_COLUMNS, "pairs")
    known = {p.id for p in policies}
    unknown = sorted(set(pairs["policy_id"].unique().to_list()) - known)
    if unknown:
        raise ValidationError(
            f"the pairs name policies the catalog lacks: {', '.join(unknown[:5])}; "
            "pass the catalog the pairs were matched with"
        )
    traits = []
    if "resident" in profiles:
        traits.append(_resident_traits(profiles["resident"]))
    if "enterprise" in profiles:
        traits.append(_enterprise_traits(profiles["enterprise"]))
    if not traits:
        raise ValidationError(
            "no profile for subject(s) of the pairs: no residents or enterprises were given; "
            "pass the population the pairs were matched from"
        )
    people = pl.concat(traits)
    subject_ids = people["subject_id"].to_list()
    people = people.with_columns(
        pl.col("reach") + pl.Series(_hash_normal(subject_ids, seed, "reach"))
    )
    table = policy_frame(policies)
    ids = table["policy_id"].to_list()
    table = table.with_columns(
        pl.Series("appeal", params.appeal_sd * _hash_normal(ids, seed, "appeal")),
        pl.Series("visibility", params.visibility_sd * _hash_normal(ids, seed, "visibility")),
    )
    frame = (
        pairs.select(_PAIR_COLUMNS)
        .sort("subject_id", "policy_id")
        .join(people, on="subject_id", how="left")
        .join(table.select("policy_id", "mode", "benefit_period", "appeal", "visibility"),
              on="policy_id", how="left")
    )  # fmt: skip
    if frame["reach"].null_count():
        missing = frame.filter(pl.col("reach").is_null())["subject_id"].head(3).to_list()
        raise ValidationError(
            f"no profile for subject(s) {', '.join(missing)} of the pairs; pass the population "
            "the pairs were matched from"
        )
    rng = np.random.default_rng([seed, 7])
    noise = rng.normal(0.0, params.take_noise, frame.height)
    mode = pl.col("mode").cast(pl.String)
    maybe = _flag(pl.col("status").cast(pl.String) == "maybe")
    annual = annual_benefit(pl.col("benefit"), pl.col("benefit_period")).fill_null(0.0)
    p = params
    truth = frame.with_columns(
        _logistic(
            p.find_base
            + p.find_reach * pl.col("reach")
            + pl.col("visibility")
            + p.find_alone_elderly * pl.col("alone_elderly")
            + p.find_auto_grant * _flag(mode == "auto_grant")
        ).alias("p_find"),
        _logistic(p.open_base + p.open_reach * pl.col("reach")).alias("p_open"),
        _logistic(
            p.take_base
            + pl.col("appeal")
            + p.take_benefit * (annual.clip(lower_bound=0.0) / 1000.0).log1p()
            + mode.replace_strict(_EASE, default=0.0)
            + p.take_maybe * maybe
            + pl.col("need")
            + pl.Series(noise)
        ).alias("q"),
    ).with_columns(
        _logistic(
            p.complain_base
            + p.complain_irrelevance * (1.0 - pl.col("q"))
            + p.complain_maybe * maybe
        ).alias("p_complain"),
        _logistic(p.object_base + p.object_maybe * maybe).alias("p_object"),
        mode.alias("mode"),
    )
    return with_uplift(truth)


def with_uplift(truth: pl.DataFrame) -> pl.DataFrame:
    """Add take-up without a push, with one, and the difference (the push's true uplift).

    A grant (``mode`` auto_grant) has no take-up: the three are null for it.
    """
    offer = pl.col("mode").cast(pl.String) != "auto_grant"
    return (
        truth.with_columns(
            pl.when(offer).then(pl.col("p_find") * pl.col("q")).alias("p_without"),
            pl.when(offer)
            .then((1.0 - (1.0 - pl.col("p_find")) * (1.0 - pl.col("p_open"))) * pl.col("q"))
            .alias("p_with"),
        )
        .with_columns((pl.col("p_with") - pl.col("p_without")).alias("uplift"))
        .select(TRUTH_COLUMNS)
    )


def draw_outcomes(truth: pl.DataFrame, *, share: float, seed: int, round: int = 1) -> pl.DataFrame:
    """One campaign: push a random ``share`` of the pairs and draw what each subject did.

    ``pushed`` is a coin with probability ``share`` per pair (the randomised holdout); a subject
    sees the policy if they find it alone or open the push, and takes an offer up with
    probability ``q`` once seen.  ``ignored`` = pushed and neither taken up nor complained
    about.  A grant is not applied for (``applied`` null): seen, it is ``acknowledged``, and
    ``objected`` to with probability ``p_object``; its push is ignored when neither opened
    nor objected to.  Columns: :data:`SIMULATED_COLUMNS`.
    """
    if not 0.0 <= share <= 1.0:
        raise ValidationError(f"push share {share} is not between 0 and 1; e.g. 0.5 pushes half")
    ordered = truth.sort("subject_id", "policy_id")
    n = ordered.height
    rng = np.random.default_rng([seed, 1000 + round])
    u = rng.random((5, n))
    pushed = u[0] < share
    found = u[1] < ordered["p_find"].to_numpy()
    opened = pushed & (u[2] < ordered["p_open"].to_numpy())
    grant = (ordered["mode"].cast(pl.String) == "auto_grant").to_numpy()
    objecting = rng.random(n) < ordered["p_object"].to_numpy()  # drawn after: offers unchanged
    seen = found | opened
    applied = seen & (u[3] < ordered["q"].to_numpy()) & ~grant
    complained = opened & ~applied & (u[4] < ordered["p_complain"].to_numpy()) & ~grant
    objected = seen & objecting & grant
    ignored = np.where(grant, pushed & ~opened & ~objected, pushed & ~applied & ~complained)
    return ordered.select(
        pl.lit(round, dtype=pl.Int32).alias("round"),
        "subject_id",
        "subject_type",
        "policy_id",
        "status",
        pl.Series("pushed", pushed),
        pl.Series("opened", opened),
        pl.when(pl.Series(~grant)).then(pl.Series(applied)).alias("applied"),
        pl.Series("ignored", ignored),
        pl.Series("complained", complained),
        pl.when(pl.Series(grant)).then(pl.Series(seen)).alias("acknowledged"),
        pl.when(pl.Series(grant)).then(pl.Series(objected)).alias("objected"),
    )


def simulate_outcomes(
    truth: pl.DataFrame, *, share: float, seed: int, rounds: int = 2
) -> pl.DataFrame:
    """``rounds`` independent campaigns over the same pairs, stacked (``round`` = 1, 2, ...)."""
    if rounds < 1:
        raise ValidationError(f"rounds must be at least 1, got {rounds}")
    return pl.concat(
        [draw_outcomes(truth, share=share, seed=seed, round=r) for r in range(1, rounds + 1)]
    )
