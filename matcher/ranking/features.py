"""Subject × policy features, every column derived from the profile schema or the catalog.

Which columns a model reads is decided by the schema's sensitivity (:mod:`.citable`): by
default only what may be cited in a reason — so the reasons of a score explain all of it.
A :class:`FeatureSpec` is fitted once (which tags are common, which departments, categories
and policies exist) and stored with the model, so scoring builds exactly the training columns:

* profile fields the schema marks ``ordinary``: integers, numbers and booleans as they are;
  enums one-hot over the schema's allowed values; strings, dates and identifiers never.
  Protected and sensitive fields (age, gender, disability, income, assistance) only with
  ``audit=True``, and such a model never orders offers (:attr:`FeatureSpec.audit`);
* tags: multi-hot of the citable tags (service history) that at least ``min_tag_count`` pairs
  carry (a tag reading age or a disability certificate is not citable);
* the policy: mode, benefit period, audience, department, category and id one-hot, the
  pair's benefit annualised (CNY a year) — monotonic: a larger benefit never lowers the score —
  and, when a policy of the catalog ends, the days from the as-of date to its end (its
  deadline; unknown for an open-ended policy);
* the pair: ``maybe`` or ``eligible``;
* the subject's own behaviour in earlier campaigns: pushes per campaign, open, take-up
  (of offers, not grants) and complaint rates.

Every feature records the sensitivity of what it reads; one stored without it (an older
model) counts as not citable.  Categoricals are encoded explicitly, never as
HistGradientBoosting's native categorical splits, so each tree path reads one feature at a
time and contributions stay additive.  An unknown value is NaN (the trees learn where unknowns
go), not zero.

>>> spec = FeatureSpec(features=(Feature("resident.is_veteran", "退役军人", "veteran", "profile",
...                                      sensitivity="ordinary"),))
>>> spec.names, spec.audit
(('resident.is_veteran',), False)
>>> FeatureSpec((Feature("resident.age", "年龄", "age", "profile", sensitivity="protected"),)).audit
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import numpy as np
import polars as pl

from core.errors import ValidationError
from matcher.ranking.citable import is_citable
from matcher.ranking.policies import annual_benefit, policy_frame
from profiles.schema import Entity, Schema
from rules.policy import AUDIENCES, BENEFIT_PERIODS, MODES, Policy

__all__ = [
    "DAYS_LEFT",
    "HISTORY_COLUMNS",
    "Feature",
    "FeatureSpec",
    "build_features",
    "data_hash",
    "fit_feature_spec",
    "history_counts",
]

Source = Literal["profile", "onehot", "tag", "policy", "pair", "history"]

# Past outcomes per subject as rates (so a longer log does not shift them), with labels.
HISTORY_COLUMNS: dict[str, tuple[str, str]] = {
    "pushes": ("既往每轮推送数", "earlier pushes per campaign"),
    "open_rate": ("既往推送打开率", "earlier open rate"),
    "apply_rate": ("既往申领率", "earlier take-up rate"),
    "complaint_rate": ("既往投诉率", "earlier complaint rate"),
}
_POLICY_LABELS = {
    "mode": ("办理方式", "mode"),
    "benefit_period": ("发放周期", "benefit period"),
    "audience": ("对象", "audience"),
    "department": ("主管部门", "department"),
    "category": ("政策类别", "category"),
    "policy_id": ("政策", "policy"),
}
_NUMERIC_TYPES = ("integer", "number", "boolean")
DAYS_LEFT = "policy.days_left"  # the policy's deadline, as days from the as-of date
_ORDINARY = "ordinary"
_AUDIT_ONLY = ("protected", "sensitive")  # read with --audit-features; identifiers never
# Ordinary fields that say nothing about the subject: a synthetic record's calibration weight
# (how many real residents it stands for) is the generator's, and a real register has none.
_NOT_TRAITS = ("weight",)


@dataclass(frozen=True)
class Feature:
    """One model column: its name, Chinese and English labels, source and constraint."""

    name: str
    zh: str
    en: str
    source: Source
    value: str | None = None  # the category a one-hot column stands for
    monotonic: int = 0  # +1: may only raise the score
    sensitivity: str | None = None  # of what it reads (profiles.schema); None: not known

    @property
    def citable(self) -> bool:
        """Whether a reason may cite this feature (and a model ordering offers read it)."""
        return is_citable(self.sensitivity)


@dataclass(frozen=True)
class FeatureSpec:
    """The columns of the model, in order; stored with it (see ``to_dict``)."""

    features: tuple[Feature, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def monotonic(self) -> tuple[int, ...]:
        return tuple(f.monotonic for f in self.features)

    @property
    def audit(self) -> bool:
        """Whether any column reads what may not be cited: such a model is for audits only."""
        return any(not f.citable for f in self.features)

    @property
    def uncitable(self) -> tuple[str, ...]:
        """The Chinese names of what the model reads but may not cite, each once."""
        return tuple(dict.fromkeys(f.zh for f in self.features if not f.citable))

    def to_dict(self) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in vars(f).items() if v is not None and v != 0} for f in self.features
        ]

    @classmethod
    def from_dict(cls, rows: Sequence[Mapping[str, Any]]) -> FeatureSpec:
        try:
            return cls(tuple(Feature(**row) for row in rows))
        except TypeError as exc:
            raise ValidationError(f"a stored feature list is malformed ({exc})") from exc


def _readable(sensitivity: str | None, audit: bool) -> bool:
    return is_citable(sensitivity) or (audit and sensitivity in _AUDIT_ONLY)


def _profile_features(entity: Entity, *, audit: bool) -> list[Feature]:
    out: list[Feature] = []
    for field in entity.fields:
        if field.name in (entity.key, *_NOT_TRAITS) or not _readable(field.sensitivity, audit):
            continue
        zh = field.name_zh or field.name
        en = field.name.replace("_", " ")
        column = f"{entity.name}.{field.name}"
        level = field.sensitivity
        if field.type in _NUMERIC_TYPES:
            out.append(Feature(column, zh, en, "profile", sensitivity=level))
        elif field.type == "enum":
            out.extend(
                Feature(f"{column}={v}", zh, en, "onehot", value=v, sensitivity=level)
                for v in field.values
            )
    return out


def fit_feature_spec(
    pairs: pl.DataFrame,
    profiles: Mapping[str, pl.DataFrame],
    policies: Sequence[Policy],
    schema: Schema,
    *,
    audit: bool = False,
    min_tag_count: int = 50,
    history: bool = True,
    tag_names: Mapping[str, str] | None = None,
    tag_sensitivity: Mapping[str, str] | None = None,
) -> FeatureSpec:
    """Choose the columns: citable schema fields of the entities present, common citable
    tags, the catalog, the pair and past behaviour.

    ``tag_names`` gives each tag's Chinese name (the tag library's ``name_zh``) for reasons;
    ``tag_sensitivity`` each tag's sensitivity (:func:`.citable.tag_sensitivities`) — a tag
    it does not name is not known to be citable and is left out.  ``audit=True`` also reads
    protected and sensitive fields and tags (never identifiers): for audits only.
    """
    names = tag_names or {}
    levels_of = tag_sensitivity or {}
    features: list[Feature] = []
    for name in sorted(profiles):
        features.extend(_profile_features(schema.entity(name), audit=audit))
    tagged = [
        profiles[name].select(pl.col(schema.entity(name).key or "").alias("subject_id"), "tags")
        for name in sorted(profiles)
        if "tags" in profiles[name].columns
    ]
    if tagged:
        counts = (
            pairs.select("subject_id")
            .join(pl.concat(tagged), on="subject_id", how="inner")
            .explode("tags")
            .drop_nulls("tags")
            .group_by("tags")
            .len()
            .filter(pl.col("len") >= min_tag_count)
            .sort("tags")
        )
        features.extend(
            Feature(f"tag:{t}", f"标签「{names.get(t, t)}」", f"tag {t}", "tag", value=t,
                    sensitivity=levels_of.get(t))
            for t in counts["tags"]
            if is_citable(levels_of.get(t)) or audit
        )  # fmt: skip
    table = policy_frame(policies)
    levels: dict[str, Sequence[str]] = {
        "mode": MODES,
        "benefit_period": BENEFIT_PERIODS,
        "audience": AUDIENCES,
        "department": sorted(set(table["department"].drop_nulls())),
        "category": sorted(set(table["category"].drop_nulls())),
        "policy_id": sorted(table["policy_id"]),
    }
    for column, values in levels.items():
        zh, en = _POLICY_LABELS[column]
        features.extend(
            Feature(f"policy.{column}={v}", zh, en, "policy", value=v, sensitivity=_ORDINARY)
            for v in values
        )
    features.append(
        Feature("policy.annual_benefit", "年化待遇（元）", "annual benefit (CNY)", "policy",
                monotonic=1, sensitivity=_ORDINARY)
    )  # fmt: skip
    if table["valid_until"].is_not_null().any():
        features.append(
            Feature(DAYS_LEFT, "距政策截止天数", "days until the policy ends", "policy",
                    sensitivity=_ORDINARY)
        )  # fmt: skip
    features.append(
        Feature("pair.maybe", "待确认资格", "eligibility still to confirm", "pair",
                sensitivity=_ORDINARY)
    )  # fmt: skip
    if history:
        for column, (zh, en) in HISTORY_COLUMNS.items():
            features.append(
                Feature(f"history.{column}", zh, en, "history",
                        monotonic=1 if column == "apply_rate" else 0, sensitivity=_ORDINARY)
            )  # fmt: skip
    return FeatureSpec(tuple(features))


def history_counts(log: pl.DataFrame) -> pl.DataFrame:
    """Per subject of an outcome log: pushes per campaign, and open, take-up, complaint rates.

    Rates are per push (opens, complaints) or per offer (take-up; rows whose ``applied`` is
    null — grants, which nobody applies for — are not offers); with no push, a rate per push
    is unknown.

    >>> log = pl.DataFrame({"round": [1, 1, 2], "subject_id": ["a", "a", "a"],
    ...     "pushed": [True, False, True], "opened": [True, False, False],
    ...     "applied": [True, True, False], "complained": [False, False, False]})
    >>> history_counts(log).row(0)
    ('a', 1.0, 0.5, 0.6666666666666666, 0.0)
    """
    pushes = pl.col("pushed").cast(pl.Float64).sum()
    per_push = pl.when(pushes > 0).then(pushes)
    return log.group_by("subject_id").agg(
        (pushes / pl.col("round").n_unique()).alias("history.pushes"),
        (pl.col("opened").cast(pl.Float64).sum() / per_push).alias("history.open_rate"),
        pl.col("applied").cast(pl.Float64).mean().alias("history.apply_rate"),
        (pl.col("complained").cast(pl.Float64).sum() / per_push).alias("history.complaint_rate"),
    )


def _joined(
    pairs: pl.DataFrame,
    profiles: Mapping[str, pl.DataFrame],
    policies: Sequence[Policy],
    schema: Schema,
    history: pl.DataFrame | None,
) -> pl.DataFrame:
    frame = pairs.select("subject_id", "policy_id", "status", "benefit")
    for name in sorted(profiles):
        entity = schema.entity(name)
        assert entity.key is not None
        prof = profiles[name]
        keep = [c for c in prof.columns if c != entity.key]
        frame = frame.join(
            prof.select(
                pl.col(entity.key).alias("subject_id"),
                *(pl.col(c).alias(f"{name}.{c}") for c in keep),
            ),
            on="subject_id",
            how="left",
        )
    table = policy_frame(policies)
    frame = frame.join(
        table.select("policy_id", *(pl.col(c).alias(f"policy.{c}") for c in table.columns[1:])),
        on="policy_id",
        how="left",
    )
    if history is not None:
        # take-up is of offers: a grant is not applied for, so its rows have no take-up
        grants = table.filter(pl.col("mode") == "auto_grant")["policy_id"].to_list()
        history = history.with_columns(
            pl.when(pl.col("policy_id").is_in(grants))
            .then(None)
            .otherwise(pl.col("applied"))
            .alias("applied")
        )
        # a subject the log never mentions was never pushed: 0 pushes, rates unknown
        frame = frame.join(history_counts(history), on="subject_id", how="left").with_columns(
            pl.col("history.pushes").fill_null(0.0)
        )
    return frame


def _expr(
    f: Feature, frame: pl.DataFrame, profiles: Mapping[str, pl.DataFrame], as_of: date | None
) -> pl.Expr:
    columns = frame.columns
    if f.source == "profile":
        return pl.col(f.name).cast(pl.Float64) if f.name in columns else pl.lit(float("nan"))
    if f.source == "onehot":
        column = f.name.split("=", 1)[0]
        if column not in columns:
            return pl.lit(float("nan"))
        return (pl.col(column).cast(pl.String) == f.value).cast(pl.Float64)
    if f.source == "tag":
        lists = [f"{name}.tags" for name in sorted(profiles) if f"{name}.tags" in columns]
        if not lists:
            return pl.lit(float("nan"))
        tags = pl.coalesce(*(pl.col(c) for c in lists))
        return tags.list.contains(f.value or "").cast(pl.Float64)
    if f.source == "policy":
        if f.name == "policy.annual_benefit":
            return annual_benefit(pl.col("benefit"), pl.col("policy.benefit_period"))
        if f.name == DAYS_LEFT:
            if as_of is None:
                return pl.lit(float("nan"))
            return (pl.col("policy.valid_until") - pl.lit(as_of)).dt.total_days().cast(pl.Float64)
        column = "policy_id" if f.name.startswith("policy.policy_id=") else f.name.split("=")[0]
        return (pl.col(column).cast(pl.String) == f.value).fill_null(False).cast(pl.Float64)
    if f.source == "pair":
        return (pl.col("status").cast(pl.String) == "maybe").cast(pl.Float64)
    # history: NaN when no log was given at all, 0 for a subject the log never mentions
    return pl.col(f.name).cast(pl.Float64) if f.name in columns else pl.lit(float("nan"))


def build_features(
    spec: FeatureSpec,
    pairs: pl.DataFrame,
    profiles: Mapping[str, pl.DataFrame],
    policies: Sequence[Policy],
    schema: Schema,
    *,
    history: pl.DataFrame | None = None,
    as_of: date | None = None,
) -> np.ndarray:
    """The feature matrix (float64, NaN = unknown) of ``pairs``, rows in the order of ``pairs``.

    ``profiles`` maps entity names to frames with derived fields and tags; ``history`` is the
    outcome log of earlier campaigns (None: past outcomes unknown); ``as_of`` the date the
    days to a policy's deadline count from (None: unknown).
    """
    missing = [c for c in ("subject_id", "policy_id", "status") if c not in pairs.columns]
    if missing:
        raise ValidationError(
            f"pairs lack the column(s) {', '.join(missing)}; expected a `zhida match` pairs file"
        )
    if "benefit" not in pairs.columns:
        pairs = pairs.with_columns(pl.lit(None, dtype=pl.Float64).alias("benefit"))
    frame = _joined(pairs, profiles, policies, schema, history)
    exprs = [
        _expr(f, frame, profiles, as_of).fill_null(float("nan")).alias(f.name)
        for f in spec.features
    ]
    return frame.select(exprs).to_numpy().astype(np.float64, copy=False)


def data_hash(*arrays: np.ndarray) -> str:
    """SHA-256 over the bytes of ``arrays`` (the training matrix and labels).

    >>> zeros, ones = np.zeros(2), np.ones(2)
    >>> data_hash(zeros) == data_hash(np.zeros(2)), data_hash(zeros) == data_hash(ones)
    (True, False)
    """
    digest = hashlib.sha256()
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()
