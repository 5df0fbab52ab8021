"""Every score in plain words: the features that moved it most, in Chinese and English.

A score's raw value (log-odds) is the model's bias plus one additive contribution per feature
(:meth:`TreeEnsemble.contributions`); the reasons are the largest contributions by size, each
named with the schema's Chinese field name and the value the subject has.  An uplift score
(the take-up telling adds, a difference of two probabilities) is split exactly the same way
by :func:`probability_parts`.  A model that orders offers reads only citable features
(:mod:`.citable`), so no reason can name a protected or sensitive characteristic.

>>> from matcher.ranking.features import Feature
>>> size = Feature("resident.household_size", "家庭人口数", "household size", "profile")
>>> describe(size, 3.0, 0.4)
'家庭人口数 3 提高得分 (household size 3 raises the score)'
>>> retired = Feature("resident.employment_status=retired", "就业状态", "employment status",
...                   "onehot", value="retired")
>>> describe(retired, 0.0, -0.1)
'就业状态 非 retired 降低得分 (employment status not retired lowers the score)'
>>> mode = Feature("policy.mode=auto_grant", "办理方式", "mode", "policy", value="auto_grant")
>>> describe(mode, 1.0, 0.3, labels=MODE_LABELS)
'办理方式 免申即享 提高得分 (mode auto_grant raises the score)'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from matcher.ranking.features import DAYS_LEFT, Feature, FeatureSpec

__all__ = [
    "MODE_LABELS",
    "FeatureGroups",
    "Reason",
    "describe",
    "probability_parts",
    "reason_texts",
    "top_reasons",
]

# The Chinese names of the delivery modes (the three phrases of the service reform).
MODE_LABELS: dict[str, str] = {
    "auto_grant": "免申即享",
    "proactive_push": "服务找人",
    "fast_track": "直达快享",
}


@dataclass(frozen=True)
class Reason:
    """One feature's part in one score (``contribution`` in log-odds)."""

    feature: str
    value: float
    contribution: float
    text: str


def probability_parts(bias: float, contributions: np.ndarray) -> tuple[float, np.ndarray]:
    """Split each row's probability ``σ(bias + Σc)`` into ``σ(bias)`` plus one part per feature.

    Each part is its log-odds contribution scaled by the row's ``(p − σ(bias)) / Σc``, so the
    parts keep their signs and order and add up exactly: the difference of two models' parts
    explains an uplift (``p_push − p_no_push``) the way log-odds contributions explain a score.

    >>> base, parts = probability_parts(0.0, np.array([[1.0, -0.5], [0.0, 0.0]]))
    >>> base, [round(float(base + r.sum()), 4) for r in parts], bool(parts[0, 0] > 0 > parts[0, 1])
    (0.5, [0.6225, 0.5], True)
    """
    total = contributions.sum(axis=1)
    base = 1.0 / (1.0 + math.exp(-bias))
    p = 1.0 / (1.0 + np.exp(-(bias + total)))
    with np.errstate(divide="ignore", invalid="ignore"):
        # with Σc = 0 the parts must add to 0: any scale does; the slope at the bias is natural
        scale = np.where(total != 0.0, (p - base) / total, base * (1.0 - base))
    return base, contributions * scale[:, None]


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:.2f}"


def _value_words(f: Feature, value: float, labels: Mapping[str, str]) -> tuple[str, str]:
    if math.isnan(value):
        if f.name == DAYS_LEFT:
            return "政策长期有效", "the policy has no end date"
        return f"{f.zh} 未知", f"{f.en} unknown"
    if f.source in ("onehot", "policy") and f.value is not None:
        zh = labels.get(f.value, f.value)
        if value:
            return f"{f.zh} {zh}", f"{f.en} {f.value}"
        return f"{f.zh} 非 {zh}", f"{f.en} not {f.value}"
    if f.source == "tag":
        return (f"{f.zh}", f"{f.en}") if value else (f"无{f.zh}", f"no {f.en}")
    if f.source == "pair":
        return (f.zh, f.en) if value else ("资格已确认", "eligibility confirmed")
    return f"{f.zh} {_number(value)}", f"{f.en} {_number(value)}"


def _sentence(zh: str, en: str, contribution: float) -> str:
    up = contribution >= 0
    return f"{zh} {'提高' if up else '降低'}得分 ({en} {'raises' if up else 'lowers'} the score)"


def describe(
    f: Feature, value: float, contribution: float, *, labels: Mapping[str, str] | None = None
) -> str:
    """``feature value raises/lowers the score`` in Chinese, then English in brackets.

    ``labels`` gives Chinese names for category values (policy ids to titles, modes).
    """
    return _sentence(*_value_words(f, value, labels or {}), contribution)


@dataclass(frozen=True, eq=False)
class FeatureGroups:
    """The one-hot columns of one field (or policy attribute) as one group; others alone.

    A reason speaks of a field ("mode 免申即享"), not of each of its one-hot columns, and the
    group's contribution is the sum of its columns' (so additivity is kept).
    """

    keys: tuple[str, ...]
    members: tuple[tuple[int, ...], ...]
    matrix: np.ndarray  # features x groups, 1 where a feature belongs to a group

    @classmethod
    def of(cls, spec: FeatureSpec) -> FeatureGroups:
        index: dict[str, list[int]] = {}
        for i, f in enumerate(spec.features):
            grouped = f.source in ("onehot", "policy") and f.value is not None
            index.setdefault(f.name.split("=", 1)[0] if grouped else f.name, []).append(i)
        matrix = np.zeros((len(spec.features), len(index)))
        for g, members in enumerate(index.values()):
            matrix[members, g] = 1.0
        return cls(tuple(index), tuple(tuple(m) for m in index.values()), matrix)


def _group_words(
    spec: FeatureSpec, members: tuple[int, ...], row: np.ndarray, labels: Mapping[str, str]
) -> tuple[str, str, float]:
    """Words for one group's value in one row, and that value (1 for a one-hot group)."""
    first = spec.features[members[0]]
    if len(members) == 1:
        value = float(row[members[0]])
        return (*_value_words(first, value, labels), value)
    values = row[list(members)]
    if np.isnan(values).all():
        return f"{first.zh} 未知", f"{first.en} unknown", float("nan")
    active = [m for m, v in zip(members, values, strict=True) if v == 1.0]
    if not active:
        return f"{first.zh} 无", f"{first.en} none", 0.0
    f = spec.features[active[0]]
    value_zh = labels.get(f.value or "", f.value or "")
    return f"{f.zh} {value_zh}", f"{f.en} {f.value}", 1.0


def top_reasons(
    spec: FeatureSpec,
    x: np.ndarray,
    contributions: np.ndarray,
    *,
    top: int = 3,
    labels: Mapping[str, str] | None = None,
) -> list[list[Reason]]:
    """For each row, the ``top`` fields with the largest contributions by size.

    A reason's ``feature`` is the field (one-hot columns grouped); its contributions plus the
    bias still add up to the raw score.
    """
    groups = FeatureGroups.of(spec)
    grouped = contributions @ groups.matrix
    k = max(0, min(top, grouped.shape[1]))
    order = np.argsort(-np.abs(grouped), axis=1, kind="stable")[:, :k]
    out = []
    for i in range(x.shape[0]):
        reasons = []
        for g in order[i]:
            c = float(grouped[i, g])
            if c == 0.0:
                continue
            zh, en, value = _group_words(spec, groups.members[g], x[i], labels or {})
            reasons.append(Reason(groups.keys[g], value, c, _sentence(zh, en, c)))
        out.append(reasons)
    return out


def reason_texts(
    spec: FeatureSpec,
    x: np.ndarray,
    contributions: np.ndarray,
    *,
    top: int = 3,
    labels: Mapping[str, str] | None = None,
) -> tuple[list[str], int]:
    """The ``top`` reasons of every row as one flat list, row after row, and the width.

    Every row gets exactly ``width`` texts (a zero contribution still reads "raises"), so the
    caller can reshape them without a Python list per row.
    """
    groups = FeatureGroups.of(spec)
    grouped = contributions @ groups.matrix
    width = max(0, min(top, grouped.shape[1]))
    order = np.argsort(-np.abs(grouped), axis=1, kind="stable")[:, :width]
    named = labels or {}
    texts = []
    for i, row in enumerate(order):
        for g in row:
            zh, en, _ = _group_words(spec, groups.members[g], x[i], named)
            texts.append(_sentence(zh, en, float(grouped[i, g])))
    return texts, width
